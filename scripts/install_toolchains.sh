#!/usr/bin/env bash
# The sandbox's toolchains (docs/eval_sandbox.md): Debian packages through apt-get, TypeScript and js-md5
# through npm. Idempotent: installs only what is missing, and runs `apt-get update` only then.
# Not root: prints what to install and exits 0 (the Python sandbox needs none of this).
set -euo pipefail

DEB_PACKAGES=(
  g++ libssl-dev libboost-dev                                          # C++ (HumanEval-X: openssl md5, boost::any)
  default-jdk-headless libjavatuples-java                              # Java (MultiPL-E imports org.javatuples)
  golang-go golang-github-stretchr-testify-dev                         # Go (HumanEval-X tests use testify)
  rustc cargo librust-rand-dev librust-regex-dev librust-md5-dev       # Rust (HumanEval-X imports rand/regex/md5)
  php-cli mono-mcs mono-runtime bash util-linux                        # PHP, C#, Bash; unshare for the netns
)
NPM_PACKAGES=(typescript js-md5)                                       # TypeScript; HumanEval-X JavaScript/162

if [ "$(id -u)" -ne 0 ]; then
  echo "install_toolchains: not root, skipping. The sandbox needs: ${DEB_PACKAGES[*]} nodejs npm (Debian)"
  echo "  and 'npm install -g ${NPM_PACKAGES[*]}'; docs/eval_sandbox.md says how to install them without root."
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "install_toolchains: no apt-get on this machine; install the equivalents of: ${DEB_PACKAGES[*]}" >&2
  exit 0
fi

wanted=("${DEB_PACKAGES[@]}")
command -v node >/dev/null || wanted+=(nodejs)
command -v npm >/dev/null || wanted+=(npm)
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install_toolchains: apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

root="$(npm root -g)"
npm_missing=()
for pkg in "${NPM_PACKAGES[@]}"; do
  [ -d "$root/$pkg" ] || npm_missing+=("$pkg")
done
if [ ${#npm_missing[@]} -gt 0 ]; then
  echo "install_toolchains: npm install -g ${npm_missing[*]}"
  npm install -g --silent "${npm_missing[@]}"
fi
echo "install_toolchains: C++, Java, JavaScript, TypeScript, Go, Rust, PHP, Bash and C# toolchains present"
