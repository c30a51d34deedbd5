"""MSC-SLE bedside eCRF (NCT03562065).

The domain core (this package minus ``msc_sle_crf.ui``) imports no Qt and is testable with no screen.
"""

__version__ = "0.1.0"
STUDY_NAME = "MSC-SLE"
PROTOCOL_NUMBER = "NCT03562065"
