"""devlab.client.lab's pure parts: the execute_request it sends a kernel, and folding the
kernel's replies into what a cell shows."""

from __future__ import annotations

import json

from devlab.client.lab import ExecutionResult, collect, execute_request


def test_execute_request_is_a_shell_message_of_the_messaging_spec():
    message = execute_request("print(1)", "alice", "s1")
    json.dumps(message)  # sent as JSON as is: no datetimes left to convert
    header = message["header"]
    assert header["msg_type"] == message["msg_type"] == "execute_request"
    assert header["msg_id"] == message["msg_id"]
    assert (header["username"], header["session"]) == ("alice", "s1")
    assert set(header) == {"msg_id", "msg_type", "username", "session", "date", "version"}
    assert message["channel"] == "shell"
    assert message["parent_header"] == {}
    assert message["content"] == {
        "code": "print(1)",
        "silent": False,
        "store_history": False,
        "allow_stdin": False,
    }
    assert execute_request("x", "alice", "s1")["msg_id"] != header["msg_id"]


def _reply(kind: str, **content) -> dict:
    return {"msg_type": kind, "content": content}


def test_collect_folds_streams_results_displays_and_errors_until_idle():
    result = ExecutionResult()
    replies = [
        _reply("status", execution_state="busy"),
        _reply("stream", name="stdout", text="4"),
        _reply("stream", name="stdout", text="2\n"),
        _reply("stream", name="stderr", text="careful\n"),
        _reply("display_data", data={"text/plain": "<Figure>"}),
        _reply("execute_result", data={"text/plain": "42", "text/html": "<b>42</b>"}),
        _reply(
            "error",
            ename="ValueError",
            evalue="no",
            traceback=["\x1b[0;31mValueError\x1b[0m: no"],
        ),
    ]
    assert not any(collect(result, reply) for reply in replies)
    assert collect(result, _reply("status", execution_state="idle"))
    assert result.stdout == "42\n"
    assert result.stderr == "careful\n"
    assert result.display == [{"text/plain": "<Figure>"}]
    assert result.result == "42"
    assert result.error == {"ename": "ValueError", "evalue": "no", "traceback": ["ValueError: no"]}
    assert not result.ok
