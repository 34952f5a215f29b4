{
    "name": "his_connector",
    "title": "HIS connector",
    "version": "0.1.0",
    "summary": "Incremental, idempotent pulls of patients, visits and spending from the hospital's HIS database.",
    "depends": ["patients"],
}
