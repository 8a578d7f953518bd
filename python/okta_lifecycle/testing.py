"""Testing helpers: an offline Okta org for your own tests.

::

    from okta_lifecycle.testing import OktaSimulator

    with OktaSimulator(seed_users=10) as sim:
        ...  # point any Okta client at sim.url with "SSWS " + sim.api_token
"""

from okta_lifecycle._core import OktaSimulator

__all__ = ["OktaSimulator"]
