"""The HIS connector's fixtures and helpers live in plugins/his_connector/testing.py (importable
from other tests too); this conftest puts them in scope for the plugin's tests. core.testing's start_consumers starts
queue workers that get the HIS sources a test configured."""
from plugins.his_connector.testing import (  # noqa: F401
    BASE_TIME,
    CHARGE_FIELDS,
    CHARGES_QUERY,
    PATIENT_FIELDS,
    PATIENTS_QUERY,
    VISIT_FIELDS,
    VISITS_QUERY,
    His,
    connect,
    his,
    his_file,
    hospital,
    id_number,
    mariadb,
    mariadb_his,
    sqlite_his,
    sync,
)
