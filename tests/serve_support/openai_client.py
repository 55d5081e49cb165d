"""The official `openai` Python client against `agentry serve` (argv[1]: base URL).

Each check raises on a wrong answer; the last line printed is `ALL OK`.
"""
import json
import math
import sys

import openai

base_url = sys.argv[1]
client = openai.OpenAI(base_url=base_url, api_key="sk-test-123", max_retries=0, timeout=120)
MODEL = "smollm2-135m"
print("openai", openai.__version__)

# Models.
ids = [m.id for m in client.models.list().data]
assert MODEL in ids and "all-minilm-l6-v2" in ids, ids

# Chat.
reply = client.chat.completions.create(
    model=MODEL,
    messages=[{"role": "user", "content": "Name a colour."}],
    max_tokens=16,
    temperature=0,
)
text = reply.choices[0].message.content
assert text and text.strip(), reply
assert reply.usage.completion_tokens >= 1, reply.usage
print("chat:", repr(text))

# Stream.
pieces = []
usage = None
for chunk in client.chat.completions.create(
    model=MODEL,
    messages=[{"role": "user", "content": "Count to five."}],
    max_tokens=16,
    temperature=0,
    stream=True,
    stream_options={"include_usage": True},
):
    if chunk.usage is not None:
        usage = chunk.usage
    for choice in chunk.choices:
        if choice.delta.content:
            pieces.append(choice.delta.content)
assert "".join(pieces).strip(), pieces
assert usage is not None and usage.completion_tokens >= 1, usage
print("stream:", repr("".join(pieces)), "in", len(pieces), "chunks")

# Tools: a call comes back with a name from the tools and JSON arguments.
tools = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "The current time in a time zone.",
            "parameters": {
                "type": "object",
                "properties": {"zone": {"type": "string"}},
                "required": ["zone"],
            },
        },
    },
]
reply = client.chat.completions.create(
    model=MODEL,
    messages=[{"role": "user", "content": "What is the weather in Paris?"}],
    tools=tools,
    tool_choice="required",
    max_tokens=64,
    temperature=0,
)
choice = reply.choices[0]
assert choice.finish_reason == "tool_calls", choice
calls = choice.message.tool_calls
assert calls and calls[0].type == "function", choice
assert calls[0].function.name in {"get_weather", "get_time"}, calls
arguments = json.loads(calls[0].function.arguments)
assert isinstance(arguments, dict), arguments
print("tool call:", calls[0].function.name, arguments)

# The call's result goes back as a tool message; the model answers in text.
followup = client.chat.completions.create(
    model=MODEL,
    messages=[
        {"role": "user", "content": "What is the weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [c.model_dump() for c in calls]},
        {"role": "tool", "tool_call_id": calls[0].id, "content": "Sunny, 21 C"},
    ],
    tools=tools,
    tool_choice="none",
    max_tokens=24,
    temperature=0,
)
assert followup.choices[0].message.content, followup
print("after the tool:", repr(followup.choices[0].message.content))

# JSON Schema.
schema = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}
reply = client.chat.completions.create(
    model=MODEL,
    messages=[{"role": "user", "content": "Invent a person: name and age, as JSON."}],
    response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": schema, "strict": True}},
    max_tokens=64,
    temperature=0,
)
person = json.loads(reply.choices[0].message.content)
assert set(person) == {"name", "age"}, person
assert isinstance(person["name"], str) and isinstance(person["age"], int), person
print("json_schema:", person)

# Embeddings (the client asks for base64 and decodes it).
result = client.embeddings.create(
    model="all-minilm-l6-v2",
    input=["The cat sits on the mat", "A cat is sitting on a rug", "Quarterly revenue grew 5%"],
)
vectors = [d.embedding for d in result.data]
assert len(vectors) == 3 and all(len(v) == 384 for v in vectors), [len(v) for v in vectors]


def cos(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


near, far = cos(vectors[0], vectors[1]), cos(vectors[0], vectors[2])
assert near > far + 0.3, (near, far)
print(f"embeddings: near {near:.3f}, far {far:.3f}")

# Errors surface as the client's typed exceptions.
try:
    client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}], n=100)
    raise AssertionError("n=100 was accepted")
except openai.BadRequestError as error:
    assert error.status_code == 400, error
try:
    openai.OpenAI(base_url=base_url, api_key="wrong", max_retries=0).models.list()
    raise AssertionError("a wrong key was accepted")
except openai.AuthenticationError as error:
    assert error.status_code == 401, error
print("ALL OK")
