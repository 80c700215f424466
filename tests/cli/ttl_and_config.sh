# Expiry from redis-cli: default-ttl, TTL on the user's index, validated
# CONFIG SET, a due refresh sliding by the current default. Restores the
# defaults at the end (the walk-throughs share one server).
cli() { redis-cli --no-raw -p "$PORT" "$@"; }
raw() { redis-cli --raw -p "$PORT" "$@"; }
index_of() { raw --scan --pattern "*:u:$1"; }
# ms between a token's creation and its expiry, from MTOKEN.LIST (-1: none)
lifetime() { raw MTOKEN.LIST "$1" | awk 'p=="created"{c=$0} p=="expires"{e=$0} {p=$0} END{print (e<0 ? -1 : e-c)}'; }

echo "# default-ttl 0: tokens never expire"
cli CONFIG GET mtoken.default-ttl
alice=$(raw MTOKEN.CREATE alice | head -1)
cli TTL "$(index_of alice)"
echo "alice lifetime: $(lifetime alice)"

echo "# default-ttl 1000"
cli CONFIG SET mtoken.default-ttl 1000
bob=$(raw MTOKEN.CREATE bob NAME phone | head -1)
cli TTL "$(index_of bob)"
echo "bob lifetime: $(lifetime bob)"
raw MTOKEN.CREATE carol TTL 30 >/dev/null
cli TTL "$(index_of carol)"
echo "carol lifetime: $(lifetime carol)"

echo "# bad values are refused and the old value stays"
cli CONFIG SET mtoken.default-ttl -5
cli CONFIG SET mtoken.refresh-on-verify sometimes
cli CONFIG SET mtoken.namespace 'a{b'
cli CONFIG GET mtoken.default-ttl
cli MTOKEN.CREATE bob TTL -1
cli MTOKEN.CREATE bob TTL

echo "# a due refresh slides bob's token by the current default"
cli CONFIG SET mtoken.refresh-interval 0
cli CONFIG SET mtoken.default-ttl 2000
cli MTOKEN.VERIFY "$bob"
cli TTL "$(index_of bob)"
echo "# default-ttl back to 0: the next refresh makes it immortal"
cli CONFIG SET mtoken.default-ttl 0
cli MTOKEN.VERIFY "$bob"
cli TTL "$(index_of bob)"
echo "# VERIFY_RO never refreshes; alice's immortal token stays so"
cli MTOKEN.VERIFY_RO "$alice"
cli TTL "$(index_of alice)"

cli MTOKEN.EXPIREALL bob
cli CONFIG SET mtoken.refresh-interval 60
