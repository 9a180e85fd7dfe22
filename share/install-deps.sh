#!/bin/sh
# Installs the Debian 12 packages that sfnet-explore needs to build, test and
# run its demo, when any is missing. Runs apt-get as root, through sudo, or
# prints the exact command to run.
set -eu

PACKAGES="build-essential pkg-config make
libopenblas-dev liblapacke-dev libdnnl-dev libsqlite3-dev libncurses-dev ncurses-term
libpng-dev libjpeg62-turbo-dev libjpeg-turbo-progs libchafa-dev libcairo2-dev libcjson-dev
liblinear-dev libcriterion-dev tmux valgrind fonts-dejavu-core
python3 python3-numpy python3-scipy python3-torch python3-torchvision python3-astropy
libopenmpi-dev openmpi-bin slurm-wlm munge libcfitsio-dev clang libclang-rt-14-dev
fitsverify"

missing=""
for p in $PACKAGES; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
        *"install ok installed"*) ;;
        *) missing="$missing $p" ;;
    esac
done

[ -z "$missing" ] && exit 0

echo "sfnet-explore: installing missing Debian packages:$missing"
if [ "$(id -u)" = 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo"
else
    echo "sfnet-explore: cannot install packages (not root, no sudo). Run:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
