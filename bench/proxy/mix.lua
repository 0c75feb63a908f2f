-- wrk script of bench/proxy/run.sh's mixed workload: Zipf (s=1) over
-- $MIX_KEYS keys (16000 by default) by inverse transform on the cumulative
-- weights (a binary search), and a tenth of the requests for keys no thread
-- asked before.
local counter = 0
function setup(thread)
    counter = counter + 1
    thread:set("seed", counter)
end
local cdf, n, fresh = {}, tonumber(os.getenv("MIX_KEYS") or "") or 16000, 0
function init(args)
    math.randomseed(os.time() * 1000 + (seed or 0))
    local total = 0
    for k = 1, n do total = total + 1 / k; cdf[k] = total end
    for k = 1, n do cdf[k] = cdf[k] / total end
end
function request()
    if math.random() < 0.1 then
        fresh = fresh + 1
        return wrk.format(nil, "/mix/new-" .. (seed or 0) .. "-" .. os.time() .. "-" .. fresh)
    end
    local u, lo, hi = math.random(), 1, n
    while lo < hi do
        local mid = math.floor((lo + hi) / 2)
        if cdf[mid] < u then lo = mid + 1 else hi = mid end
    end
    return wrk.format(nil, "/mix/" .. lo)
end
