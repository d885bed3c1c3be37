"""The sample BSNs are what the tests take them for."""

from intake.samples import BAD_BSN, BSNS
from stroom_contract.bsn import is_valid_bsn


def test_sample_bsns() -> None:
    assert all(is_valid_bsn(bsn) for bsn in BSNS)
    assert not is_valid_bsn(BAD_BSN)
