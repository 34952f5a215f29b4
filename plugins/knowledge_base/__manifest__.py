{
    "name": "knowledge_base",
    "title": "Knowledge base",
    "version": "0.2.0",
    "summary": "Health education, advice, SMS texts and FAQ articles with Chinese full-text search.",
    "depends": ["patients", "followup"],
}
