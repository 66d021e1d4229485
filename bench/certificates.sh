# Sourced by the work by hand (raw-*.sh): a CA and one certificate per node,
# made with openssl in pb1, installed in HOME/tls of each node (root.crt,
# node.crt, node.key; postgres, 0600), as the collection's own CA does.
# Needs $prefix, and as_root HOST (a shell as root in that container).
install_certificates() {  # home, nodes...
  local home=$1; shift
  local certificates node file
  certificates=$(mktemp -d)
  as_root pb1 <<EOF
mkdir -p /tmp/bench-tls && cd /tmp/bench-tls
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout ca.key -out root.crt \
  -subj "/CN=bench CA" -days 30 2>/dev/null
for node in $*; do
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout \$node.key -out \$node.csr \
    -subj /CN=replicator 2>/dev/null
  printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth,clientAuth\n' \$node > \$node.ext
  openssl x509 -req -in \$node.csr -CA root.crt -CAkey ca.key -CAcreateserial -days 30 -out \$node.crt \
    -extfile \$node.ext 2>/dev/null
done
EOF
  docker cp "${prefix}pb1:/tmp/bench-tls/." "$certificates"
  for node in "$@"; do
    as_root "$node" <<EOF
mkdir -p $home/tls && chown postgres:postgres $home/tls && chmod 700 $home/tls
EOF
    for file in root.crt "$node.crt:node.crt" "$node.key:node.key"; do
      docker cp "$certificates/${file%%:*}" "$prefix$node:$home/tls/${file##*:}"
    done
    as_root "$node" <<EOF
chown postgres:postgres $home/tls/* && chmod 600 $home/tls/*
EOF
  done
  rm -rf "$certificates"
}
