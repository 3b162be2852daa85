import pytest

from tests.incidents.noise_helpers import reset_noise_state


@pytest.fixture(autouse=True)
def clean_noise_state():
    """Every incidents test starts and ends without noise state left in this process or in
    this run's Redis DB: no cached rules, no flapping back-off, no flapping counts."""
    reset_noise_state()
    yield
    reset_noise_state()
