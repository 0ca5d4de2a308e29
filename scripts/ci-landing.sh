#!/usr/bin/env bash
# The landing page `/` in a real browser: installs Chromium when it is
# missing, then runs tests/landing_browser.rs (headless Chromium loads the
# page from the exporter over the dashboard simulator and simulated TEMPer
# sensors; phone-sized screenshots are left in target/tmp/landing/).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-debs.sh chromium

CI=true cargo test --quiet --test landing_browser -- --nocapture
