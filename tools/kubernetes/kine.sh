# Builds kine, an etcd API over SQLite, as the control plane's storage.
# The SQLite driver is cgo (mattn/go-sqlite3); the tags and CFLAGS are the
# ones kine's own scripts/build uses, so SQLite behaves as in k3s.

KINE_SQLITE_TAGS="sqlite_unlock_notify,sqlite_vtable,sqlite_stat4,sqlite_preupdate_hook,sqlite_math_functions,sqlite_dbstat,sqlite_column_metadata"
KINE_SQLITE_CFLAGS="-DSQLITE_DEFAULT_MEMSTATUS=0 -DSQLITE_DISABLE_INTRINSIC -DSQLITE_ENABLE_COLUMN_METADATA -DSQLITE_ENABLE_DBPAGE_VTAB -DSQLITE_ENABLE_DBSTAT_VTAB -DSQLITE_ENABLE_MATH_FUNCTIONS -DSQLITE_ENABLE_MEMORY_MANAGEMENT -DSQLITE_ENABLE_OFFSET_SQL_FUNC -DSQLITE_ENABLE_PREUPDATE_HOOK -DSQLITE_ENABLE_RBU -DSQLITE_ENABLE_RTREE -DSQLITE_ENABLE_SESSION -DSQLITE_ENABLE_SNAPSHOT -DSQLITE_ENABLE_STAT4 -DSQLITE_ENABLE_UNLOCK_NOTIFY -DSQLITE_LIKE_DOESNT_MATCH_BLOBS -DSQLITE_THREADSAFE=1 -DSQLITE_WITHOUT_ZONEMALLOC"

# build_kine WORK_DIR BIN_DIR LOG
build_kine() {
  local bin=$2 log=$3
  command -v gcc >/dev/null || { echo "FAILED: kine needs a C compiler for SQLite: apt-get install gcc" >&2; exit 1; }
  run_step "go install github.com/k3s-io/kine@v$KINE_VERSION (cgo, SQLite)" "$log" \
    env CGO_ENABLED=1 CGO_CFLAGS="$KINE_SQLITE_CFLAGS" GOBIN="$bin" \
    go install -tags "$KINE_SQLITE_TAGS" \
    -ldflags "-s -w -X github.com/k3s-io/kine/pkg/version.Version=v$KINE_VERSION" \
    "github.com/k3s-io/kine@v$KINE_VERSION"
}
