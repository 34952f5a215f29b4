{
    "name": "hotline",                       # required; ^[a-z][a-z0-9_]{1,39}$, unique; 'core' is reserved
    "title": "Hotline",                      # required; shown in the Apps screen
    "version": "1.0.0",                      # required
    "summary": "Calls to the hospital hotline.",   # required
    "depends": ["patients"],                 # optional; plugins that must load (and be enabled) first
    "author": "Example Integrator Ltd.",     # optional
    "license": "Apache-2.0",                 # optional
    "website": "https://example.org/hcrm-hotline",  # optional
}
