/* The module floor (issue 13): the least a module command can do to answer
 * with a string key's value, so that every mtoken VERIFY figure has a ratio
 * to "the best any module can do" on the same server.
 *
 *   FLOOR.GET key      opens argv[1] and replies its string value (nil if none)
 *   FLOOR.GETNAME id   the same on the key PREFIX + id, a name the command
 *                      builds with RedisModule_CreateString, as mtoken builds
 *                      `mtoken:{tag}:t:<digest>` from the token
 *
 * Built by scripts/bench/server.py with `cc -shared -fPIC` against the
 * redismodule.h that ships with the redis-module crate. */

#include <string.h>

#include "redismodule.h"

#define PREFIX "floor:{bench}:t:"

/* Reply with the string value under `name`, or nil. */
static int reply_value(RedisModuleCtx *ctx, RedisModuleString *name) {
    RedisModuleKey *key = RedisModule_OpenKey(ctx, name, REDISMODULE_READ);
    size_t len = 0;
    char *value = NULL;
    if (RedisModule_KeyType(key) == REDISMODULE_KEYTYPE_STRING)
        value = RedisModule_StringDMA(key, &len, REDISMODULE_READ);
    if (len == 0)
        RedisModule_ReplyWithNull(ctx);
    else
        RedisModule_ReplyWithStringBuffer(ctx, value, len);
    RedisModule_CloseKey(key);
    return REDISMODULE_OK;
}

static int get_cmd(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc != 2) return RedisModule_WrongArity(ctx);
    return reply_value(ctx, argv[1]);
}

static int getname_cmd(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    if (argc != 2) return RedisModule_WrongArity(ctx);
    size_t idlen;
    const char *id = RedisModule_StringPtrLen(argv[1], &idlen);
    char buf[256];
    if (idlen > sizeof buf - (sizeof PREFIX - 1))
        return RedisModule_ReplyWithError(ctx, "ERR id too long");
    memcpy(buf, PREFIX, sizeof PREFIX - 1);
    memcpy(buf + sizeof PREFIX - 1, id, idlen);
    RedisModuleString *name = RedisModule_CreateString(ctx, buf, sizeof PREFIX - 1 + idlen);
    reply_value(ctx, name);
    RedisModule_FreeString(ctx, name);
    return REDISMODULE_OK;
}

int RedisModule_OnLoad(RedisModuleCtx *ctx, RedisModuleString **argv, int argc) {
    (void)argv;
    (void)argc;
    if (RedisModule_Init(ctx, "floor", 1, REDISMODULE_APIVER_1) == REDISMODULE_ERR)
        return REDISMODULE_ERR;
    if (RedisModule_CreateCommand(ctx, "floor.get", get_cmd, "readonly fast", 1, 1, 1) ==
            REDISMODULE_ERR ||
        RedisModule_CreateCommand(ctx, "floor.getname", getname_cmd, "readonly fast", 0, 0, 0) ==
            REDISMODULE_ERR)
        return REDISMODULE_ERR;
    return REDISMODULE_OK;
}
