{
    "name": "followup",
    "title": "Follow-up",
    "version": "0.1.0",
    "summary": "Follow-up plans and rounds, rules that plan from visits, work queue, SMS, satisfaction surveys.",
    "depends": ["patients"],
}
