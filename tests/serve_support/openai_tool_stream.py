"""Streamed tool calls through the official `openai` Python client (argv[1]: base URL,
argv[2]: model).

A streamed call comes as its name, then its arguments in fragments that join to the
arguments of the same request not streamed; text replies stream as content. Each check
raises on a wrong answer; the last line printed is `ALL OK`.
"""
import json
import sys

import openai

base_url, MODEL = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=300)
tools = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["city", "unit"],
            },
        },
    }
]
WEATHER = [{"role": "user", "content": "What is the weather in Paris, in celsius?"}]
SUM = [{"role": "user", "content": "What is 2+2? Answer with the number only."}]


def streamed(messages, **extra):
    """(content pieces, {call index: [id, name, [argument fragments]]}, finish reasons)."""
    content, calls, finishes = [], {}, []
    for chunk in client.chat.completions.create(
        model=MODEL, messages=messages, tools=tools, max_tokens=96, temperature=0,
        seed=1, stream=True, **extra,
    ):
        for choice in chunk.choices:
            delta = choice.delta
            if delta.content:
                content.append(delta.content)
            for call in delta.tool_calls or []:
                entry = calls.setdefault(call.index, [None, None, []])
                if call.id:
                    assert entry[0] is None, ("a second id", call)
                    entry[0] = call.id
                if call.function and call.function.name:
                    assert entry[1] is None and not entry[2], ("the name comes first", call)
                    entry[1] = call.function.name
                if call.function and call.function.arguments:
                    entry[2].append(call.function.arguments)
            if choice.finish_reason:
                finishes.append(choice.finish_reason)
    return content, calls, finishes


# The same request whole and streamed: the same call, its arguments in fragments.
whole = client.chat.completions.create(
    model=MODEL, messages=WEATHER, tools=tools, max_tokens=96, temperature=0, seed=1,
)
choice = whole.choices[0]
assert choice.finish_reason == "tool_calls" and choice.message.tool_calls, choice
want = choice.message.tool_calls[0].function
print("whole:", want.name, want.arguments)

content, calls, finishes = streamed(WEATHER)
print("streamed:", content, calls, finishes)
assert finishes == ["tool_calls"], finishes
assert sorted(calls) == list(range(len(choice.message.tool_calls))), calls
call_id, name, fragments = calls[0]
assert call_id and name == want.name, calls
assert len(fragments) >= 2, ("the arguments came whole", fragments)
joined = "".join(fragments)
assert json.loads(joined) == json.loads(want.arguments), (joined, want.arguments)
assert joined == want.arguments, (joined, want.arguments)
for piece in content:
    assert "<tool_call>" not in piece and '{"name"' not in piece and "<tool_" not in piece, content

# No call wanted: text streams as content and no tool_calls come.
for label, messages, extra in [
    ("tool_choice none", WEATHER, {"tool_choice": "none"}),
    ("no tool needed", SUM, {}),
]:
    content, calls, finishes = streamed(messages, **extra)
    print(label + ":", repr("".join(content)), "in", len(content), "chunks", finishes)
    assert "".join(content).strip() and not calls, (content, calls)
    assert finishes and finishes[0] in ("stop", "length"), finishes
    assert not any("<tool_call>" in piece for piece in content), content
print("ALL OK")
