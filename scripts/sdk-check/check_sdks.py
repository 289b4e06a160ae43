"""The official SDKs against the bridge, as a client team would use them.

Each SDK gets `{bridge}/proxy/{provider}` as its base URL and the bridge's access token as its
API key; the bridge calls the mock provider with the server's key. One call each, streamed and
not; then the OpenAI SDK on the gateway, `{bridge}/v1`, with `provider/model` names and its typed
errors. Usage: python3 check_sdks.py BRIDGE_URL TOKEN MOCK_LOG PROVIDER_KEY
"""
import json
import sys

import anthropic
import openai
from google import genai
from google.genai import types

bridge, token, mock_log, provider_key = sys.argv[1:5]
checks = []


def check(name, text, expected):
    assert expected in text, f"{name}: got {text!r}"
    checks.append(name)
    print(f"ok  {name}: {text!r}")


client = openai.OpenAI(base_url=f"{bridge}/proxy/openai", api_key=token)
reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])
check("openai", reply.choices[0].message.content, "Hello from OpenAI")
stream = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}], stream=True)
check("openai stream", "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices), "Hello from OpenAI")

claude = anthropic.Anthropic(base_url=f"{bridge}/proxy/claude", api_key=token)
message = claude.messages.create(model="claude-3-5-haiku-latest", max_tokens=20, messages=[{"role": "user", "content": "Hi"}])
check("anthropic", message.content[0].text, "Hello from Claude")
with claude.messages.stream(model="claude-3-5-haiku-latest", max_tokens=20, messages=[{"role": "user", "content": "Hi"}]) as events:
    check("anthropic stream", "".join(events.text_stream), "Hello from Claude")

gemini = genai.Client(api_key=token, http_options=types.HttpOptions(base_url=f"{bridge}/proxy/gemini"))
answer = gemini.models.generate_content(model="gemini-2.0-flash", contents="Hi")
check("google-genai", answer.text, "Hello from Gemini")
streamed = "".join(chunk.text or "" for chunk in gemini.models.generate_content_stream(model="gemini-2.0-flash", contents="Hi"))
check("google-genai stream", streamed, "Hello from Gemini")

# The gateway: one OpenAI base URL, the model naming the provider; errors as the SDK's typed ones.
gateway = openai.OpenAI(base_url=f"{bridge}/v1", api_key=token)
reply = gateway.chat.completions.create(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])
check("openai /v1", reply.choices[0].message.content, "Hello from OpenAI")
chunks = list(gateway.chat.completions.create(
    model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}], stream=True, stream_options={"include_usage": True}))
check("openai /v1 stream", "".join(c.choices[0].delta.content or "" for c in chunks if c.choices), "Hello from OpenAI")
assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens > 0, "the /v1 stream has no usage chunk"
check("openai /v1 models", " ".join(m.id for m in gateway.models.list()), "openai/gpt-4o-mini")
# Claude through the same client: the request translated to Anthropic Messages, the answers back.
claude_model = "claude/claude-3-5-haiku-latest"
reply = gateway.chat.completions.create(model=claude_model, messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
check("openai /v1 claude", reply.choices[0].message.content, "Hello from Claude")
assert reply.choices[0].finish_reason == "stop" and reply.usage.prompt_tokens == 5 and reply.usage.completion_tokens == 3
chunks = list(gateway.chat.completions.create(
    model=claude_model, messages=[{"role": "user", "content": "Hi"}], stream=True, stream_options={"include_usage": True}))
check("openai /v1 claude stream", "".join(c.choices[0].delta.content or "" for c in chunks if c.choices), "Hello from Claude")
assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3, "the translated stream has no usage chunk"
tools = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
reply = gateway.chat.completions.create(model=claude_model, messages=[{"role": "user", "content": "Weather?"}], tools=tools)
call = reply.choices[0].message.tool_calls[0]
check("openai /v1 claude tools", f"{call.function.name} {call.function.arguments}", 'weather {"city":"Paris"}')
assert reply.choices[0].finish_reason == "tool_calls"
streamed = list(gateway.chat.completions.create(model=claude_model, messages=[{"role": "user", "content": "Weather?"}], tools=tools, stream=True))
arguments = "".join(tc.function.arguments or "" for c in streamed if c.choices for tc in (c.choices[0].delta.tool_calls or []))
check("openai /v1 claude tools stream", arguments, '{"city": "Paris"}')

# Gemini through the same client.
reply = gateway.chat.completions.create(model="gemini/gemini-2.0-flash", messages=[{"role": "user", "content": "Hi"}])
check("openai /v1 gemini", reply.choices[0].message.content, "Hello from Gemini")
assert reply.choices[0].finish_reason == "stop" and reply.usage.completion_tokens == 3
chunks = list(gateway.chat.completions.create(
    model="gemini/gemini-2.0-flash", messages=[{"role": "user", "content": "Hi"}], stream=True, stream_options={"include_usage": True}))
check("openai /v1 gemini stream", "".join(c.choices[0].delta.content or "" for c in chunks if c.choices), "Hello from Gemini")
assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 5, "the translated Gemini stream has no usage chunk"

reply = gateway.chat.completions.create(model="gemini/gemini-2.0-flash", messages=[{"role": "user", "content": "Weather?"}], tools=tools)
call = reply.choices[0].message.tool_calls[0]
check("openai /v1 gemini tools", f"{call.function.name} {call.function.arguments}", 'weather {"city":"Paris"}')
assert reply.choices[0].finish_reason == "tool_calls"
streamed = list(gateway.chat.completions.create(model="gemini/gemini-2.0-flash", messages=[{"role": "user", "content": "Weather?"}], tools=tools, stream=True))
arguments = "".join(tc.function.arguments or "" for c in streamed if c.choices for tc in (c.choices[0].delta.tool_calls or []))
check("openai /v1 gemini tools stream", arguments, '{"city":"Paris"}')

# Embeddings: passed through to OpenAI, translated to Gemini's batchEmbedContents (the SDK asks
# for base64 by default and decodes it).
vectors = gateway.embeddings.create(model="openai/text-embedding-3-small", input="Hi")
check("openai /v1 embeddings", str(vectors.data[0].embedding), "[0.25, 0.5]")
vectors = gateway.embeddings.create(model="gemini/text-embedding-004", input=["Hi", "there"])
check("openai /v1 gemini embeddings", str([item.embedding for item in vectors.data]), "[[0.5, -1.25, 3.0], [0.5, -1.25, 3.0]]")

for name, error, call in [
    ("AuthenticationError", openai.AuthenticationError,
     lambda: openai.OpenAI(base_url=f"{bridge}/v1", api_key="not-a-token").models.list()),
    ("NotFoundError", openai.NotFoundError,
     lambda: gateway.chat.completions.create(model="acme/x", messages=[{"role": "user", "content": "Hi"}])),
    ("NotFoundError (no such alias)", openai.NotFoundError,
     lambda: gateway.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])),
    ("BadRequestError", openai.BadRequestError,
     lambda: gateway.chat.completions.create(model=claude_model, messages=[{"role": "user", "content": "Hi"}], n=2)),
]:
    try:
        call()
        raise AssertionError(f"openai /v1 {name}: no error")
    except error as raised:
        check(f"openai /v1 {name}", f"{raised.code}: {raised.message}", "")
        assert raised.code and raised.body.get("message"), f"{name}: {raised.body!r}"

# What reached the provider: its key in its own header, never the bridge's token.
seen = [json.loads(line) for line in open(mock_log)]
assert len(seen) == 18, f"the mock saw {len(seen)} requests"
for request in seen:
    assert token not in json.dumps(request), f"the bridge token went upstream: {request['path']}"
assert all(r["authorization"] == f"Bearer {provider_key}" for r in seen if r["path"].startswith("/openai/"))
assert all(r["model"] in ("gpt-4o-mini", "text-embedding-3-small") for r in seen if r["path"].startswith("/openai/")), "a /v1 model went upstream unrenamed"
assert all(r["x-api-key"] == provider_key and r["anthropic-version"] == "2023-06-01" for r in seen if r["path"].startswith("/anthropic/"))
assert all(r["x-goog-api-key"] == provider_key for r in seen if r["path"].startswith("/gemini/"))
print(f"sdk: {len(checks)} passed, 0 failed")
