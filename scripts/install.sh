#!/usr/bin/env bash
# Install everything fax-intake needs on Debian, as root. Safe to run again:
# system packages are installed only when missing, pip only adds what is absent.
#   bash scripts/install.sh          # runtime
#   bash scripts/install.sh --test   # runtime + test tools
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=0
command -v tesseract >/dev/null 2>&1 || need_apt=1
command -v pdftoppm >/dev/null 2>&1 || need_apt=1
if command -v tesseract >/dev/null 2>&1 && ! tesseract --list-langs 2>/dev/null | grep -qx jpn; then need_apt=1; fi
packages="tesseract-ocr tesseract-ocr-jpn poppler-utils"
# The tests also generate faxes in Debian's handwriting fonts (samplegen --writers fonts).
if [ "${1:-}" = "--test" ]; then
  [ -f /usr/share/fonts/truetype/klee/KleeOne-Regular.ttf ] && [ -f /usr/share/fonts/truetype/kiloji/kiloji.ttf ] \
    && [ -f /usr/share/fonts/truetype/fifthhorseman/dkg.ttf ] && [ -f /usr/share/fonts/opentype/bwht/BecauseWeBuild-Regular.otf ] \
    && [ -f /usr/share/fonts/truetype/humor-sans/Humor-Sans.ttf ] || need_apt=1
  packages="$packages fonts-klee fonts-kiloji fonts-dkg-handwriting fonts-bwht fonts-humor-sans"
  # ... and forms typed on a computer in Japanese print fonts (samplegen --writers typed|typed-dev;
  # the list is samplegen.typed's DEV_FONT_PACKAGES and HELD_OUT_FONT_PACKAGES).
  for f in /usr/share/fonts/opentype/ipafont-gothic/ipag.ttf /usr/share/fonts/opentype/ipafont-mincho/ipam.ttf \
           /usr/share/fonts/truetype/sawarabi-mincho/sawarabi-mincho-medium.ttf /usr/share/fonts/truetype/vlgothic/VL-Gothic-Regular.ttf \
           /usr/share/fonts/truetype/sawarabi-gothic/sawarabi-gothic-medium.ttf /usr/share/fonts/truetype/motoya-l-cedar/MTLc3m.ttf \
           /usr/share/fonts/truetype/motoya-l-maruberi/MTLmr3m.ttf /usr/share/fonts/opentype/mplus/Mplus1-Regular.otf; do
    [ -f "$f" ] || need_apt=1
  done
  packages="$packages fonts-ipafont-gothic fonts-ipafont-mincho fonts-sawarabi-mincho fonts-vlgothic fonts-sawarabi-gothic"
  packages="$packages fonts-motoya-l-cedar fonts-motoya-l-maruberi fonts-mplus"
  # The review station's browser tests drive Debian's headless chromium through its own chromedriver.
  { command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } || need_apt=1
  packages="$packages chromium chromium-driver"
fi
if [ "$need_apt" = 1 ]; then
  echo "installing $packages ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $packages >/dev/null
fi

# Debian's own Python marks its site-packages as externally managed (PEP 668);
# this machine-wide install as root is what the set-up asks for.
export PIP_BREAK_SYSTEM_PACKAGES=1
extra=""
[ "${1:-}" = "--test" ] && extra="[test]"
python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore -e ".${extra}"
echo "fax-intake installed: $(command -v intake)" >&2
