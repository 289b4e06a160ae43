"""Writes the spec that client generators get: openapi.yaml without the operations marked
`x-sdk-exclude: true` (the SDK base-URL routes, whose tail OpenAPI cannot express), and without
the tags no operation uses any more."""
import sys

import yaml

source, target = sys.argv[1], sys.argv[2]
spec = yaml.safe_load(open(source, encoding="utf-8"))
used_tags = set()
for path in list(spec["paths"]):
    item = spec["paths"][path]
    for method in list(item):
        operation = item[method]
        if isinstance(operation, dict) and operation.get("x-sdk-exclude"):
            del item[method]
        elif isinstance(operation, dict):
            used_tags.update(operation.get("tags", []))
    if not any(isinstance(value, dict) and "operationId" in value for value in item.values()):
        del spec["paths"][path]
spec["tags"] = [tag for tag in spec.get("tags", []) if tag["name"] in used_tags]
yaml.safe_dump(spec, open(target, "w", encoding="utf-8"), sort_keys=False, allow_unicode=True)
