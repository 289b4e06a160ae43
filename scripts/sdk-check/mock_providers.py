"""Mock OpenAI, Anthropic and Gemini APIs on 127.0.0.1 for the SDK check.

Deterministic answers (JSON and SSE) in each provider's format. Every request's path and
credential header are appended to the log file named on the command line, so the check can
prove the provider key went upstream and the bridge's token did not.
Usage: python3 mock_providers.py PORT LOGFILE
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = sys.argv[2]


def sse(handler, events):
    # No length: the stream ends when the connection closes.
    handler.close_connection = True
    handler.send_response(200)
    handler.send_header("content-type", "text/event-stream")
    handler.send_header("connection", "close")
    handler.end_headers()
    for event in events:
        handler.wfile.write(event.encode())
        handler.wfile.flush()


def send_json(handler, body, status=200):
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("content-type", "application/json")
    handler.send_header("content-length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        with open(LOG, "a") as log:
            log.write(json.dumps({
                "path": self.path,
                "authorization": self.headers.get("authorization"),
                "x-api-key": self.headers.get("x-api-key"),
                "x-goog-api-key": self.headers.get("x-goog-api-key"),
                "anthropic-version": self.headers.get("anthropic-version"),
                "model": body.get("model") if isinstance(body, dict) else None,
            }) + "\n")
        path = self.path.split("?")[0]
        if path == "/openai/v1/chat/completions":
            if body.get("stream"):
                chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                         "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hello from OpenAI"}, "finish_reason": None}]}
                done = dict(chunk, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}])
                events = [f"data: {json.dumps(chunk)}\n\n", f"data: {json.dumps(done)}\n\n"]
                if (body.get("stream_options") or {}).get("include_usage"):
                    usage = dict(chunk, choices=[], usage={"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8})
                    events.append(f"data: {json.dumps(usage)}\n\n")
                return sse(self, events + ["data: [DONE]\n\n"])
            return send_json(self, {"id": "c1", "object": "chat.completion", "created": 0, "model": body["model"],
                                    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello from OpenAI"}, "finish_reason": "stop"}],
                                    "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}})
        if path == "/anthropic/v1/messages":
            message = {"id": "m1", "type": "message", "role": "assistant", "model": body["model"], "stop_reason": "end_turn",
                       "stop_sequence": None, "usage": {"input_tokens": 5, "output_tokens": 3}}
            if body.get("tools"):  # one call of the first tool, as Anthropic documents tool use
                tool = {"type": "tool_use", "id": "toolu_1", "name": body["tools"][0]["name"], "input": {"city": "Paris"}}
                if not body.get("stream"):
                    return send_json(self, dict(message, content=[tool], stop_reason="tool_use"))
                start = dict(message, content=[], stop_reason=None, usage={"input_tokens": 5, "output_tokens": 1})
                return sse(self, [
                    f"event: message_start\ndata: {json.dumps({'type': 'message_start', 'message': start})}\n\n",
                    "event: content_block_start\ndata: " + json.dumps({"type": "content_block_start", "index": 0, "content_block": dict(tool, input={})}) + "\n\n",
                    "event: content_block_delta\ndata: " + json.dumps({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{\"city\": "}}) + "\n\n",
                    "event: content_block_delta\ndata: " + json.dumps({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "\"Paris\"}"}}) + "\n\n",
                    "event: content_block_stop\ndata: " + json.dumps({"type": "content_block_stop", "index": 0}) + "\n\n",
                    "event: message_delta\ndata: " + json.dumps({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None}, "usage": {"output_tokens": 3}}) + "\n\n",
                    "event: message_stop\ndata: " + json.dumps({"type": "message_stop"}) + "\n\n",
                ])
            if body.get("stream"):
                start = dict(message, content=[], stop_reason=None, usage={"input_tokens": 5, "output_tokens": 1})
                return sse(self, [
                    f"event: message_start\ndata: {json.dumps({'type': 'message_start', 'message': start})}\n\n",
                    "event: content_block_start\ndata: " + json.dumps({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}) + "\n\n",
                    "event: content_block_delta\ndata: " + json.dumps({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello from Claude"}}) + "\n\n",
                    "event: content_block_stop\ndata: " + json.dumps({"type": "content_block_stop", "index": 0}) + "\n\n",
                    "event: message_delta\ndata: " + json.dumps({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 3}}) + "\n\n",
                    "event: message_stop\ndata: " + json.dumps({"type": "message_stop"}) + "\n\n",
                ])
            return send_json(self, dict(message, content=[{"type": "text", "text": "Hello from Claude"}]))
        if path == "/openai/v1/embeddings":
            return send_json(self, {"object": "list", "model": body["model"], "usage": {"prompt_tokens": 2, "total_tokens": 2},
                                    "data": [{"object": "embedding", "index": 0, "embedding": [0.25, 0.5]}]})
        if path.startswith("/gemini/v1beta/models/") and path.endswith(":batchEmbedContents"):
            return send_json(self, {"embeddings": [{"values": [0.5, -1.25, 3.0]} for _ in body["requests"]]})
        if path.startswith("/gemini/v1beta/models/") and body.get("tools"):  # one call of the first function
            name = body["tools"][0]["functionDeclarations"][0]["name"]
            answer = {"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": name, "args": {"city": "Paris"}}}]},
                                      "finishReason": "STOP", "index": 0}],
                      "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 3}, "modelVersion": "gemini-2.0-flash"}
            return sse(self, [f"data: {json.dumps(answer)}\r\n\r\n"]) if path.endswith(":streamGenerateContent") else send_json(self, answer)
        if path.startswith("/gemini/v1beta/models/"):
            answer = {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hello from Gemini"}]}, "finishReason": "STOP", "index": 0}],
                      "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 3, "totalTokenCount": 8}, "modelVersion": "gemini-2.0-flash"}
            if path.endswith(":streamGenerateContent"):
                return sse(self, [f"data: {json.dumps(answer)}\r\n\r\n"])
            if path.endswith(":generateContent"):
                return send_json(self, answer)
        send_json(self, {"error": "no such route in the mock"}, 404)


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
