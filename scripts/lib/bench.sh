# Shared by scripts/test and scripts/demo: find or make the Frappe bench, link this working tree
# into it, make a site. Source it; every function prints what it does and fails loudly.
#
#   CASE_THREADS_BENCH        the bench folder (made when it has no bench)      ~/frappe-bench
#   CASE_THREADS_FRAPPE_SRC   Frappe's git URL or a local git copy              upstream GitHub
#   CASE_THREADS_FRAPPE_REF   the branch bench init takes                       version-15
#   CASE_THREADS_PYTHON       the Python of the bench's env (3.10-3.12)         python3.11/3.12/3.10
#   CASE_THREADS_REDIS        Redis for cache, queue and socketio               redis://127.0.0.1:6379
#   CASE_THREADS_DB_HOST / _DB_ROOT_USER / _DB_ROOT_PASSWORD   MariaDB          127.0.0.1, ct_admin, ct_admin_pw
# The Frappe version the project is tested on is the file FRAPPE_VERSION at the repository root.

ct_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ct_bench=${CASE_THREADS_BENCH:-$HOME/frappe-bench}
ct_frappe_src=${CASE_THREADS_FRAPPE_SRC:-https://github.com/frappe/frappe}
ct_frappe_ref=${CASE_THREADS_FRAPPE_REF:-version-15}
ct_redis=${CASE_THREADS_REDIS:-redis://127.0.0.1:6379}
ct_db_host=${CASE_THREADS_DB_HOST:-127.0.0.1}
ct_db_user=${CASE_THREADS_DB_ROOT_USER:-ct_admin}
ct_db_password=${CASE_THREADS_DB_ROOT_PASSWORD:-ct_admin_pw}
ct_tested_frappe=$(tr -d ' \n' <"$ct_repo/FRAPPE_VERSION")
ct_log=${XDG_CACHE_HOME:-$HOME/.cache}/case-threads/bench-$(echo "$ct_bench" | tr '/' '_').log
# Why the last ct_* function returned non-zero (for the caller's message).
ct_why=""

ct_say() { echo "[case-threads] $*"; }
ct_warn() { echo "!! $*" >&2; }

ct_have_bench() { [ -x "$ct_bench/env/bin/python" ] && [ -f "$ct_bench/apps/frappe/frappe/__init__.py" ]; }

ct_frappe() { (cd "$ct_bench/sites" && "$ct_bench/env/bin/python" -m frappe.utils.bench_helper frappe "$@"); }

# Run a step with its output in the log; on failure show the log's end and return 1.
ct_run() {
	mkdir -p "$(dirname "$ct_log")"
	echo "\$ $*" >>"$ct_log"
	if ! "$@" >>"$ct_log" 2>&1 </dev/null; then
		tail -25 "$ct_log" >&2
		ct_warn "FAILED: $* (whole log: $ct_log)"
		return 1
	fi
}

ct_python() {
	local candidate version
	for candidate in ${CASE_THREADS_PYTHON:-python3.11 python3.12 python3.10 python3}; do
		command -v "$candidate" >/dev/null || continue
		version=$("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || continue
		case $version in 3.10 | 3.11 | 3.12) echo "$candidate"; return 0 ;; esac
	done
	return 1
}

ct_port_open() { # host port
	python3 - "$1" "$2" <<-'PY' 2>/dev/null
		import socket, sys
		socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3).close()
		PY
}

# MariaDB and Redis on this machine: started from Debian's packages when run as root, else what to do.
ct_services() {
	local redis_host redis_port
	redis_host=$(echo "$ct_redis" | sed -E 's#^redis://([^:/]+).*#\1#')
	redis_port=$(echo "$ct_redis" | sed -nE 's#^redis://[^:/]+:([0-9]+).*#\1#p'); redis_port=${redis_port:-6379}
	if ! ct_port_open "$ct_db_host" 3306; then
		if [ "$(id -u)" = 0 ] && [ "$ct_db_host" = 127.0.0.1 ] && command -v apt-get >/dev/null; then
			ct_say "MariaDB not answering on 127.0.0.1:3306: installing/starting Debian's mariadb-server"
			dpkg -s mariadb-server >/dev/null 2>&1 || { ct_run apt-get update -qq &&
				DEBIAN_FRONTEND=noninteractive ct_run apt-get install -y -qq mariadb-server; } || return 1
			service mariadb start >>"$ct_log" 2>&1 || (mysqld_safe --bind-address=127.0.0.1 >>"$ct_log" 2>&1 &)
			sleep 5
		fi
		ct_port_open "$ct_db_host" 3306 || {
			ct_why="MariaDB is not answering on $ct_db_host:3306 (Debian: apt-get install mariadb-server; service mariadb start; or set CASE_THREADS_DB_HOST)"
			return 1; }
	fi
	if ! ct_port_open "$redis_host" "$redis_port"; then
		if [ "$(id -u)" = 0 ] && [ "$redis_host" = 127.0.0.1 ] && command -v apt-get >/dev/null; then
			ct_say "Redis not answering on $redis_host:$redis_port: installing/starting Debian's redis-server"
			dpkg -s redis-server >/dev/null 2>&1 || { ct_run apt-get update -qq &&
				DEBIAN_FRONTEND=noninteractive ct_run apt-get install -y -qq redis-server; } || return 1
			redis-server --bind 127.0.0.1 --port "$redis_port" --daemonize yes >>"$ct_log" 2>&1
			sleep 1
		fi
		ct_port_open "$redis_host" "$redis_port" || {
			ct_why="Redis is not answering on $redis_host:$redis_port (Debian: apt-get install redis-server; or set CASE_THREADS_REDIS)"
			return 1; }
	fi
	# The MariaDB user that may create the sites' databases (new-site prompts for an empty root password).
	if ! mysql -u"$ct_db_user" -p"$ct_db_password" -h"$ct_db_host" -e "SELECT 1" >/dev/null 2>&1; then
		local host sql
		for host in % localhost 127.0.0.1; do
			sql="CREATE USER IF NOT EXISTS '$ct_db_user'@'$host' IDENTIFIED BY '$ct_db_password';
				GRANT ALL PRIVILEGES ON *.* TO '$ct_db_user'@'$host' WITH GRANT OPTION;"
			mysql -uroot -e "$sql" 2>/dev/null || mysql -uroot -h"$ct_db_host" -e "$sql" 2>/dev/null || true
		done
		mysql -u"$ct_db_user" -p"$ct_db_password" -h"$ct_db_host" -e "SELECT 1" >/dev/null 2>&1 || {
			ct_why="cannot log in to MariaDB as $ct_db_user (set CASE_THREADS_DB_ROOT_USER/_PASSWORD to a user that may create databases, or run as a user for whom 'mysql -uroot' works, to have it made)"
			return 1; }
		ct_say "MariaDB user $ct_db_user made"
	fi
}

# What bench init needs; the missing pieces are installed when that can be done, else named.
ct_tools() {
	ct_pyexe=$(ct_python) || { ct_why="no Python 3.10-3.12 found (Frappe v15 needs one; set CASE_THREADS_PYTHON)"; return 1; }
	command -v git >/dev/null || { ct_why="git is missing (apt-get install git)"; return 1; }
	if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 18 ]; then
		ct_why="Node 18 or newer is missing (Debian 12: apt-get install nodejs npm)"; return 1
	fi
	command -v yarn >/dev/null || { ct_say "npm: yarn 1"; ct_run npm install -g yarn@1.22.22 || return 1; }
	command -v bench >/dev/null || { ct_say "pip: frappe-bench"; ct_run python3 -m pip install -q frappe-bench || return 1; }
	command -v bench >/dev/null || { ct_why="bench is not on PATH after pip install frappe-bench"; return 1; }
}

ct_frappe_version() { grep -o '^__version__ = "[^"]*"' "$ct_bench/apps/frappe/frappe/__init__.py" | cut -d'"' -f2; }

ct_check_version() {
	local got; got=$(ct_frappe_version)
	if [ "$got" != "$ct_tested_frappe" ]; then
		ct_warn "WARNING: this bench has Frappe $got; the project is tested on Frappe $ct_tested_frappe (FRAPPE_VERSION)"
	else
		ct_say "Frappe $got (the tested version)"
	fi
}

# The bench at $ct_bench, made when missing. Returns 2 when it cannot be made here ($ct_why says
# why: no Frappe source, no MariaDB...), 1 when making it failed.
ct_ensure_bench() {
	if ct_have_bench; then
		ct_say "bench: $ct_bench"
		ct_check_version
		return 0
	fi
	if [ -e "$ct_bench" ] && [ -n "$(ls -A "$ct_bench" 2>/dev/null)" ]; then
		ct_why="$ct_bench exists but holds no complete bench (no env/bin/python or apps/frappe): remove it or set CASE_THREADS_BENCH to another folder"
		return 2
	fi
	ct_say "no bench at $ct_bench: making one (Frappe $ct_frappe_ref from $ct_frappe_src; log: $ct_log)"
	mkdir -p "$(dirname "$ct_log")" && : >"$ct_log"
	ct_say "checking the Frappe source"
	if ! GIT_TERMINAL_PROMPT=0 timeout 120 git ls-remote --exit-code "$ct_frappe_src" "$ct_frappe_ref" >>"$ct_log" 2>&1; then
		ct_why="cannot reach branch $ct_frappe_ref of the Frappe source '$ct_frappe_src': set CASE_THREADS_FRAPPE_SRC to a reachable git URL or a local git copy of Frappe (and CASE_THREADS_FRAPPE_REF to its branch); offline, the copy's package.json must take air-datepicker from a local copy (README 'Bench notes')"
		return 2
	fi
	ct_say "checking tools (Python 3.10-3.12, git, Node 18+, yarn, bench)"
	ct_tools || return 2
	ct_say "checking MariaDB ($ct_db_host:3306) and Redis ($ct_redis)"
	ct_services || return 2
	if grep -q '"air-datepicker": "github:' <(git -C "$ct_frappe_src" show "$ct_frappe_ref:package.json" 2>/dev/null); then
		ct_say "note: this Frappe copy takes air-datepicker from GitHub; without network yarn will fail (README 'Bench notes')"
	fi

	# As root, bench init wants {"frappe_user": ...} in sites/common_site_config.json of the folder
	# it runs from, before the bench exists.
	local cwd; cwd=$(mktemp -d)
	mkdir -p "$cwd/sites"
	printf '{"frappe_user": "%s"}\n' "$(id -un)" >"$cwd/sites/common_site_config.json"
	local started=$SECONDS
	ct_say "bench init $ct_bench with $ct_pyexe (a few minutes: Python packages, yarn, asset build)"
	(cd "$cwd" && ct_run bench init "$ct_bench" --frappe-path "$ct_frappe_src" --frappe-branch "$ct_frappe_ref" \
		--python "$(command -v "$ct_pyexe")" --skip-redis-config-generation --no-backups --no-procfile) || { rm -rf "$cwd"; return 1; }
	rm -rf "$cwd"
	ct_have_bench || { ct_warn "bench init finished but $ct_bench has no Frappe (see $ct_log)"; return 1; }
	ct_say "bench init done in $((SECONDS - started))s"
	ct_configure_bench || return 1
	ct_check_version
}

# Settings a bench made here needs (also repaired on an existing bench made by hand): the user,
# MariaDB's host, Redis, setuptools<76 (newer ones break Frappe v15's editable installs).
ct_configure_bench() {
	"$ct_bench/env/bin/python" - "$ct_bench/sites/common_site_config.json" "$(id -un)" "$ct_db_host" "$ct_redis" <<-'PY' || return 1
		import json, os, sys
		path, user, db_host, redis = sys.argv[1:]
		config = json.load(open(path)) if os.path.exists(path) else {}
		config.update(frappe_user=user, db_host=db_host, redis_cache=redis, redis_queue=redis, redis_socketio=redis)
		open(path, "w").write(json.dumps(config, indent=1) + "\n")
		PY
	"$ct_bench/env/bin/python" -c "import setuptools, sys; sys.exit(int(setuptools.__version__.split('.')[0]) >= 76)" 2>/dev/null ||
		{ ct_say "setuptools<76 into the bench env"; ct_run "$ct_bench/env/bin/python" -m pip install -q 'setuptools<76' || return 1; }
}

# This working tree, installed into the bench as the app case_threads.
# --if-needed: skip the pip install when the bench already imports the app from this tree.
ct_link_app() {
	local link="$ct_bench/apps/case_threads"
	if [ "${1:-}" = --if-needed ] && [ "$(readlink "$link" 2>/dev/null)" = "$ct_repo" ] &&
		grep -qx case_threads "$ct_bench/sites/apps.txt" &&
		[ "$("$ct_bench/env/bin/python" -c 'import case_threads, os; print(os.path.dirname(os.path.dirname(os.path.realpath(case_threads.__file__))))' 2>/dev/null)" = "$ct_repo" ]; then
		return 0
	fi
	if [ -e "$link" ] && [ ! -L "$link" ]; then
		ct_warn "$link is a real folder, not a link to a checkout; refusing to replace it"
		return 1
	fi
	ln -sfn "$ct_repo" "$link" || return 1
	"$ct_bench/env/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e "$ct_repo" || return 1
	grep -qx case_threads "$ct_bench/sites/apps.txt" || printf '\ncase_threads\n' >>"$ct_bench/sites/apps.txt"
	sed -i '/^$/d' "$ct_bench/sites/apps.txt"
}

ct_new_site() { # site: made when missing
	[ -d "$ct_bench/sites/$1" ] && return 0
	ct_say "new site $1"
	ct_frappe new-site "$1" --db-host "$ct_db_host" --db-root-username "$ct_db_user" \
		--db-root-password "$ct_db_password" --admin-password admin --no-mariadb-socket
}

ct_install_app() { # site: the app installed, or migrated when it already is
	local installed
	# Read whole first: `list-apps | grep -q` under pipefail fails when grep stops reading early.
	installed=$(ct_frappe --site "$1" list-apps)
	if grep -q '^case_threads' <<<"$installed"; then
		ct_say "migrate $1"
		ct_frappe --site "$1" migrate --skip-search-index
	else
		ct_say "install-app case_threads on $1"
		ct_frappe --site "$1" install-app case_threads
	fi
}
