# shellcheck shell=bash
# Secure listeners of the single node, sourced by kafka.sh: beside the
# plaintext client port it listens with
#   SASL_SSL  (PORT+2, default 19094): TLS, then SASL PLAIN, SCRAM-SHA-256,
#             SCRAM-SHA-512 or OAUTHBEARER (unsecured JWTs, Kafka's default
#             validator: any unsigned token with a sub and an exp)
#   MTLS      (PORT+3, default 19095): TLS with ssl.client.auth=required
# A CA, the broker's certificate (127.0.0.1 and localhost) and a client
# certificate are made with openssl at every start, in $SINGLE_DIR/secure/.
# The SASL user "hookline" gets a random password once, kept in
# secure/sasl.password: its SCRAM credentials are written at storage format
# time (kafka-storage format --add-scram), or, for data formatted before,
# through the plaintext listener once the broker is up. PLAIN checks the same
# password from the listener's JAAS config.
#
# `kafka.sh secure-env` prints the variables the tests read.

SECURE="${KAFKA_SECURE:-1}"
SASL_SSL_PORT="${KAFKA_SASL_SSL_PORT:-$((SINGLE_PORT + 2))}"
MTLS_PORT="${KAFKA_MTLS_PORT:-$((SINGLE_PORT + 3))}"
SECURE_DIR="$SINGLE_DIR/secure"
SASL_USER="hookline"
# The broker's keystore password: the keystore holds a throwaway key of a
# loopback-only test broker, regenerated at every start.
KEYSTORE_PASS="hookline-local"

secure_on() { [ "$SECURE" = 1 ]; }

# secure_certs: a new CA, broker and client certificate (EC P-256, 30 days).
secure_certs() {
  local d="$SECURE_DIR" tmp
  mkdir -p "$d"
  tmp="$(mktemp -d "$d/.certs.XXXXXX")"
  (
    cd "$tmp"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout ca.key -out ca.pem -days 30 -subj "/CN=hookline-local-ca" 2>/dev/null
    # leaf NAME CN EXT: a certificate signed by the CA.
    leaf() {
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
      printf '%s\n' "$3" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -set_serial "0x$(openssl rand -hex 8)" \
        -days 30 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
      rm -f "$1.csr" "$1.ext"
    }
    leaf broker localhost $'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth'
    leaf client hookline-client 'extendedKeyUsage=clientAuth'
    openssl pkcs12 -export -in broker.pem -inkey broker.key -certfile ca.pem \
      -name broker -out broker.p12 -passout "pass:$KEYSTORE_PASS"
    chmod 600 ./*.key broker.p12
  ) || { rm -rf "$tmp"; die "openssl could not make the test certificates"; }
  mv -f "$tmp"/* "$d/"
  rmdir "$tmp"
}

# secure_password: the SASL user's password, made once.
secure_password() {
  mkdir -p "$SECURE_DIR"
  if [ ! -s "$SECURE_DIR/sasl.password" ]; then
    (umask 077; openssl rand -hex 16 >"$SECURE_DIR/sasl.password")
    rm -f "$SECURE_DIR/scram.done"
  fi
  cat "$SECURE_DIR/sasl.password"
}

# secure_config DIR: the listeners and their TLS and SASL settings, added to
# the server.properties write_config wrote.
secure_config() {
  local dir="$1" pass
  pass="$(secure_password)"
  sed -i \
    -e "s|^listeners=.*|&,SASL_SSL://127.0.0.1:$SASL_SSL_PORT,MTLS://127.0.0.1:$MTLS_PORT|" \
    -e "s|^advertised.listeners=.*|&,SASL_SSL://127.0.0.1:$SASL_SSL_PORT,MTLS://127.0.0.1:$MTLS_PORT|" \
    -e "s|^listener.security.protocol.map=.*|&,SASL_SSL:SASL_SSL,MTLS:SSL|" \
    "$dir/server.properties"
  cat >>"$dir/server.properties" <<EOF

# Secure listeners (deployments/local/kafka-secure.sh)
listener.name.sasl_ssl.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER
listener.name.sasl_ssl.ssl.keystore.type=PKCS12
listener.name.sasl_ssl.ssl.keystore.location=$SECURE_DIR/broker.p12
listener.name.sasl_ssl.ssl.keystore.password=$KEYSTORE_PASS
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$SASL_USER="$pass";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="$SASL_USER";
listener.name.mtls.ssl.keystore.type=PKCS12
listener.name.mtls.ssl.keystore.location=$SECURE_DIR/broker.p12
listener.name.mtls.ssl.keystore.password=$KEYSTORE_PASS
listener.name.mtls.ssl.truststore.type=PEM
listener.name.mtls.ssl.truststore.location=$SECURE_DIR/ca.pem
listener.name.mtls.ssl.client.auth=required
EOF
}

# secure_format_args: the SCRAM credentials for kafka-storage format.
secure_format_args() {
  local pass
  pass="$(secure_password)"
  printf '%s\n' --add-scram "SCRAM-SHA-256=[name=$SASL_USER,password=$pass]" \
    --add-scram "SCRAM-SHA-512=[name=$SASL_USER,password=$pass]"
}

# secure_started: once the broker runs, the SCRAM credentials of data
# formatted without them, and both secure ports open.
secure_started() {
  local deadline="$1" pass out
  if [ ! -f "$SECURE_DIR/scram.done" ]; then
    pass="$(secure_password)"
    # One mechanism per request: the broker refuses two alterations of
    # one user's credentials in a request.
    for mech in SCRAM-SHA-256 SCRAM-SHA-512; do
      if ! out="$(TOOL_TIMEOUT=60 run_tool kafka.admin.ConfigCommand --bootstrap-server "$(single_bootstrap)" \
          --alter --entity-type users --entity-name "$SASL_USER" \
          --add-config "$mech=[password=$pass]" 2>&1)"; then
        echo "$out" >&2
        start_failed "could not add the $mech credentials of $SASL_USER"
      fi
    done
    touch "$SECURE_DIR/scram.done"
  fi
  while ! port_open "$SASL_SSL_PORT" || ! port_open "$MTLS_PORT"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      start_failed "secure listeners $SASL_SSL_PORT / $MTLS_PORT did not open"
    fi
    sleep 0.3
  done
}

# secure_env: the test variables, as shell exports.
secure_env() {
  secure_on || die "the secure listeners are off (KAFKA_SECURE=0)"
  [ -s "$SECURE_DIR/ca.pem" ] || die "no certificates in $SECURE_DIR: run kafka.sh start first"
  printf 'export HOOKLINE_TEST_KAFKA_SASL_SSL=%q\n' "127.0.0.1:$SASL_SSL_PORT"
  printf 'export HOOKLINE_TEST_KAFKA_MTLS=%q\n' "127.0.0.1:$MTLS_PORT"
  printf 'export HOOKLINE_TEST_KAFKA_CA_FILE=%q\n' "$SECURE_DIR/ca.pem"
  printf 'export HOOKLINE_TEST_KAFKA_CLIENT_CERT_FILE=%q\n' "$SECURE_DIR/client.pem"
  printf 'export HOOKLINE_TEST_KAFKA_CLIENT_KEY_FILE=%q\n' "$SECURE_DIR/client.key"
  printf 'export HOOKLINE_TEST_KAFKA_SASL_USER=%q\n' "$SASL_USER"
  printf 'export HOOKLINE_TEST_KAFKA_SASL_PASSWORD_FILE=%q\n' "$SECURE_DIR/sasl.password"
}

# secure_summary: one line for start and status.
secure_summary() {
  secure_on || return 0
  echo "kafka: secure listeners SASL_SSL 127.0.0.1:$SASL_SSL_PORT (PLAIN, SCRAM-SHA-256/512, OAUTHBEARER; user $SASL_USER) and mTLS 127.0.0.1:$MTLS_PORT; CA $SECURE_DIR/ca.pem; 'kafka.sh secure-env' prints the test variables"
}
