{
    "name": "complaints",
    "title": "Complaints",
    "version": "0.1.0",
    "summary": "Complaints and suggestions with an assignment workflow, deadlines, feedback and statistics.",
    "depends": ["patients"],
}
