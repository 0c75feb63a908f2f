-- wrk script of bench/proxy/run.sh's miss-10k workload: a random key among
-- $MISS_KEYS (10000 by default) per request, a different sequence per thread.
local counter = 0
function setup(thread)
    counter = counter + 1
    thread:set("seed", counter)
end
local keys = tonumber(os.getenv("MISS_KEYS") or "") or 10000
function init(args)
    math.randomseed(os.time() * 1000 + (seed or 0))
end
function request()
    return wrk.format(nil, "/miss/" .. math.random(0, keys - 1))
end
