#!/usr/bin/env bash
# The landing page `/` in a real browser: installs Chromium when it is
# missing, then runs tests/landing_browser.rs (headless Chromium loads the
# page from the exporter over the dashboard simulator and simulated TEMPer
# sensors; phone-sized screenshots are left in target/tmp/landing/).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium >/dev/null
fi

CI=true cargo test --quiet --test landing_browser -- --nocapture
