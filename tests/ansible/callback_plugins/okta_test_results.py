"""A notification callback for the Ansible tests: each task result, as callbacks see it (so
censored where no_log applies), appended as one JSON line to the file named by
OKTA_TEST_RESULTS."""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "okta_test_results"
    CALLBACK_NEEDS_ENABLED = True

    def _record(self, status: str, result: object) -> None:
        data = getattr(result, "result", None)
        if data is None:
            data = result._result  # type: ignore[attr-defined]
        data = dict(data)
        if status == "ok" and data.get("changed"):
            status = "changed"
        line = {
            "task": result.task_name,  # type: ignore[attr-defined]
            "host": result._host.get_name(),  # type: ignore[attr-defined]
            "status": status,
            "result": data,
        }
        with open(os.environ["OKTA_TEST_RESULTS"], "a", encoding="utf-8") as file:
            file.write(json.dumps(line, default=str) + "\n")

    def v2_runner_on_ok(self, result: object) -> None:
        self._record("ok", result)

    def v2_runner_on_failed(self, result: object, ignore_errors: bool = False) -> None:
        self._record("ignored" if ignore_errors else "failed", result)

    def v2_runner_on_skipped(self, result: object) -> None:
        self._record("skipped", result)

    def v2_runner_on_unreachable(self, result: object) -> None:
        self._record("unreachable", result)
