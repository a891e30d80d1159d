-- wrk: every request asks for a random 1-day window of the data (results one second apart from
-- 2024-01-01T00:00:00Z): GET /results/average/{start}/{end} or GET /results/stats?start=&end=.
-- Arguments: average|stats, the data's span in seconds, a seed.
local first = 1704067200
local kind, span

function init(args)
  kind = args[1] or "average"
  span = tonumber(args[2]) or 86400
  math.randomseed(tonumber(args[3]) or 42)
end

function request()
  local start = first + math.random(0, math.max(span - 86400, 0))
  local from = os.date("!%Y-%m-%dT%H:%M:%SZ", start)
  local to = os.date("!%Y-%m-%dT%H:%M:%SZ", start + 86399)
  if kind == "stats" then
    return wrk.format("GET", "/results/stats?start=" .. from .. "&end=" .. to)
  end
  return wrk.format("GET", "/results/average/" .. from .. "/" .. to)
end
