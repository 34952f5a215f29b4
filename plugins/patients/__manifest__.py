{
    "name": "patients",
    "title": "Patients",
    "version": "0.1.0",
    "summary": "Patient archive, health records, visits with ICD-10 diagnoses, pinyin search, screen pop.",
    "depends": [],
}
