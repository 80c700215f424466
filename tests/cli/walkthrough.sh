# The README's first minute: create, verify, expire, expire-all.
cli() { redis-cli --no-raw -p "$PORT" "$@"; }
token=$(redis-cli --raw -p "$PORT" MTOKEN.CREATE alice NAME laptop | head -1)
second=$(redis-cli --raw -p "$PORT" MTOKEN.CREATE alice NAME phone | head -1)
echo "token shape: $(echo "$token" | grep -cE '^mt_[A-Za-z0-9]{52}$')"
cli MTOKEN.VERIFY "$token"
cli MTOKEN.VERIFY "${token}x"
cli MTOKEN.EXPIRE "$token"
cli MTOKEN.VERIFY "$token"
cli MTOKEN.VERIFY "$second"
cli MTOKEN.CREATE alice NAME tablet >/dev/null
cli MTOKEN.EXPIREALL alice
cli MTOKEN.VERIFY "$second"
cli DBSIZE
