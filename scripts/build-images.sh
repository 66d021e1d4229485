#!/usr/bin/env bash
# Builds the lab images locally, without any registry:
#   1. a Debian base made with debootstrap and `docker import`;
#   2. the PostgreSQL lab image from images/lab/Dockerfile on top of it;
#   3. the PolarDB lab image, either compiled from source with POLARDB_SRC_DIR
#      (a folder holding polardb-pg15.tar.gz, pfs.tar.gz and zlog-*.tar.gz;
#      images/polardb-src/Dockerfile), or with POLARDB_IMAGE (a loaded image
#      holding PolarDB and PFS) layered on that one (images/polardb/Dockerfile).
# Each is rebuilt only when missing or when its recipe changed (the recipe's
# hash is stored as an image label). POLARDB_IMAGES=postgresql builds only 1
# and 2, POLARDB_IMAGES=polardb only 1 and 3 (the lab role asks for its
# engine's); two runs building the same image take turns (an flock per image),
# so a lab started meanwhile never compiles PolarDB a second time.
# POLARDB_BUILD_CPU_SHARES gives the PolarDB compile that many CPU shares
# (docker build --cpu-shares), for a build that must yield to a running lab.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
suite=${POLARDB_BASE_SUITE:-bookworm}
base_image=${POLARDB_BASE_IMAGE:-polardb-lab-base:$suite}
lab_image=${POLARDB_LAB_IMAGE:-polardb-lab:pg15}
polardb_lab_image=${POLARDB_LAB_POLARDB_IMAGE:-polardb-lab:polardb}
mirror=${POLARDB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
dockerfile_dir="$here/images/lab"
wanted=${POLARDB_IMAGES:-all}
case $wanted in
  all|postgresql|polardb) ;;
  *) echo "POLARDB_IMAGES=$wanted: say all, postgresql or polardb." >&2; exit 2 ;;
esac
lock_dir=${TMPDIR:-/tmp}

turn_fd=
take_turn() {  # image: wait for any other run building it, then hold its lock until end_turn
  exec {turn_fd}>"$lock_dir/polardb-image-build.${1//[^A-Za-z0-9._-]/_}.lock"
  flock "$turn_fd"
}
end_turn() { exec {turn_fd}>&-; }

label_of() { docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true; }

base_recipe=$(printf '%s %s minbase' "$suite" "$mirror" | sha256sum | cut -c1-16)
take_turn "$base_image"
if [ "$(label_of "$base_image" org.polardb.recipe)" != "$base_recipe" ]; then
  command -v debootstrap >/dev/null || {
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
    else
      echo "debootstrap is missing: install it to build the base image." >&2; exit 1
    fi
  }
  rootfs=$(mktemp -d /tmp/polardb-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  echo "Building $base_image with debootstrap ($suite) ..."
  debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >/tmp/polardb-debootstrap.log 2>&1 || {
    tail -n 20 /tmp/polardb-debootstrap.log >&2; exit 1; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import \
    --change "LABEL org.polardb.recipe=$base_recipe" \
    --change 'CMD ["bash"]' - "$base_image" >/dev/null
  echo "changed: $base_image"
else
  echo "unchanged: $base_image"
fi
end_turn

build_layer() {  # image, build context, recipe, build args...
  local image=$1 dir=$2 recipe=$3 log; shift 3
  take_turn "$image"
  if [ "$(label_of "$image" org.polardb.recipe)" = "$recipe" ]; then
    echo "unchanged: $image"
    end_turn
    return
  fi
  echo "Building $image ..."
  log=$(mktemp /tmp/polardb-image-build.XXXXXX)
  if ! DOCKER_BUILDKIT=0 docker build "$@" --label "org.polardb.recipe=$recipe" -t "$image" "$dir" >"$log" 2>&1; then
    echo "Building $image failed; the last lines of its log ($log):" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
  rm -f "$log"
  echo "changed: $image"
  end_turn
}

if [ "$wanted" != polardb ]; then
  lab_recipe=$( (cat "$dockerfile_dir"/*; docker image inspect --format '{{.Id}}' "$base_image") | sha256sum | cut -c1-16)
  build_layer "$lab_image" "$dockerfile_dir" "$lab_recipe" --build-arg "BASE_IMAGE=$base_image"
fi

compile_shares=()
[ -n "${POLARDB_BUILD_CPU_SHARES:-}" ] && compile_shares=(--cpu-shares "$POLARDB_BUILD_CPU_SHARES")
if [ "$wanted" = postgresql ]; then
  :
elif [ -n "${POLARDB_SRC_DIR:-}" ]; then
  src_dir=$(cd "$POLARDB_SRC_DIR" && pwd) || { echo "POLARDB_SRC_DIR=$POLARDB_SRC_DIR is not a folder." >&2; exit 1; }
  tarballs=("$src_dir"/polardb-pg15.tar.gz "$src_dir"/pfs.tar.gz "$src_dir"/zlog-*.tar.gz)
  for tarball in "${tarballs[@]}"; do
    [ -f "$tarball" ] || {
      echo "POLARDB_SRC_DIR=$src_dir lacks $(basename "$tarball"): it must hold polardb-pg15.tar.gz," >&2
      echo "pfs.tar.gz and zlog-<version>.tar.gz (see README, 'PolarDB from source')." >&2
      exit 1; }
  done
  polardb_recipe=$( (cat "$here"/images/polardb-src/*; sha256sum "${tarballs[@]}" | cut -d' ' -f1
                     docker image inspect --format '{{.Id}}' "$base_image") | sha256sum | cut -c1-16)
  context=$(mktemp -d /tmp/polardb-src-context.XXXXXX)
  trap 'rm -rf "$context"' EXIT
  cp "$here"/images/polardb-src/* "${tarballs[@]}" "$context"/
  build_layer "$polardb_lab_image" "$context" "$polardb_recipe" --build-arg "BASE_IMAGE=$base_image" \
    "${compile_shares[@]}"
elif [ -n "${POLARDB_IMAGE:-}" ]; then
  docker image inspect "$POLARDB_IMAGE" >/dev/null 2>&1 || {
    echo "POLARDB_IMAGE=$POLARDB_IMAGE is not on this Docker engine: docker load it first." >&2; exit 1; }
  polardb_recipe=$( (cat "$here"/images/polardb/*; docker image inspect --format '{{.Id}}' "$POLARDB_IMAGE") | sha256sum | cut -c1-16)
  build_layer "$polardb_lab_image" "$here/images/polardb" "$polardb_recipe" --build-arg "POLARDB_IMAGE=$POLARDB_IMAGE"
fi

# With POLARDB_LAB_SSH=true (the lab role's lab_ssh), each engine image that
# exists also gets an sshd layer, IMAGE-ssh (images/ssh), for the ssh scenario.
case "${POLARDB_LAB_SSH:-false}" in
  1|true|True|yes)
    engine_images=("$lab_image" "$polardb_lab_image")
    [ "$wanted" = postgresql ] && engine_images=("$lab_image")
    [ "$wanted" = polardb ] && engine_images=("$polardb_lab_image")
    for engine_image in "${engine_images[@]}"; do
      docker image inspect "$engine_image" >/dev/null 2>&1 || continue
      ssh_recipe=$( (cat "$here"/images/ssh/*; docker image inspect --format '{{.Id}}' "$engine_image") | sha256sum | cut -c1-16)
      build_layer "$engine_image-ssh" "$here/images/ssh" "$ssh_recipe" --build-arg "ENGINE_IMAGE=$engine_image"
    done ;;
esac
