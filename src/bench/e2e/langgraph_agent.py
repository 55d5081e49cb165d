"""LangGraph's side of `agentry bench e2e`: the prebuilt ReAct agent with ChatOpenAI
pointed at llama-server, running the task agentry runs, with the same system prompt,
tool (name, description, JSON Schema, answers), greedy sampling and max tokens.

Reads its settings as JSON on stdin; prints one JSON object on stdout:
{"answer", "ended", "called", "model_steps", "prompt_tokens", "completion_tokens",
 "import_seconds", "task_seconds"}.
"""

import json
import sys
import time
import warnings

started = time.perf_counter()
from langchain_core.tools import StructuredTool  # noqa: E402
from langchain_openai import ChatOpenAI  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from langgraph.prebuilt import create_react_agent  # noqa: E402
imported = time.perf_counter() - started

settings = json.load(sys.stdin)
replies = settings["replies"]
called = []


def steps_done() -> int:
    done = 0
    for step in called:
        if step == done + 1:
            done = step
    return done


def next_step(step) -> str:
    """The same replies as agentry's tool (the bench hands over every one)."""
    step = int(str(step).strip())
    done = steps_done()
    called.append(step)
    if step == done + 1 and step <= len(replies["in_order"]):
        return replies["in_order"][step - 1]
    return replies["refusals"][done].replace("{step}", str(step))


tool = StructuredTool.from_function(
    func=next_step,
    name=settings["tool"]["name"],
    description=settings["tool"]["description"],
    args_schema=settings["tool"]["parameters"],
)
model = ChatOpenAI(
    base_url=settings["base_url"],
    api_key="unused",
    model=settings["model"],
    temperature=0,
    max_tokens=settings["max_tokens"],
    max_retries=0,
    timeout=600,
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    agent = create_react_agent(model, [tool], prompt=settings["system"])

task_started = time.perf_counter()
answer = ""
ended = "the model gave its final answer"
steps = prompt_tokens = completion_tokens = 0
messages = []
try:
    # Streamed state by state, so a run stopped by the step limit still tells its steps.
    for state in agent.stream(
        {"messages": [("user", settings["task"])]},
        {"recursion_limit": 2 * settings["max_steps"] + 1},
        stream_mode="values",
    ):
        messages = state["messages"]
except Exception as error:  # the step limit or a failed request: no answer
    ended = f"{type(error).__name__}: {error}".splitlines()[0]
task_seconds = time.perf_counter() - task_started

for message in messages:
    if message.type != "ai":
        continue
    steps += 1
    usage = message.usage_metadata or {}
    prompt_tokens += usage.get("input_tokens", 0)
    completion_tokens += usage.get("output_tokens", 0)
if messages and messages[-1].type == "ai" and not messages[-1].tool_calls:
    content = messages[-1].content
    answer = content if isinstance(content, str) else json.dumps(content)

print(
    json.dumps(
        {
            "answer": answer,
            "ended": ended,
            "called": called,
            "model_steps": steps,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "import_seconds": imported,
            "task_seconds": task_seconds,
        }
    )
)
