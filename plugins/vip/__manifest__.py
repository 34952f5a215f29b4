{
    "name": "vip",
    "title": "VIP & value",
    "version": "0.1.0",
    "summary": "VIP tiers, benefits and service plans; customer value scoring and churn warnings.",
    "depends": ["patients"],
}
