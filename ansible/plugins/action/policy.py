# -*- coding: utf-8 -*-
# Copyright: okta-lifecycle contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

"""The action of okta_lifecycle.okta.policy: the module's result is hidden from the task's output
when it holds the reset or activation links a policy asked Okta for (see
plugin_utils/secret_result.py)."""

from __future__ import annotations

from ansible_collections.okta_lifecycle.okta.plugins.plugin_utils.secret_result import SecretResultAction


class ActionModule(SecretResultAction):
    pass
