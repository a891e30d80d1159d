-- wrk: every request asks for a random window (1 minute to 7 days) inside the data's year.
local first = 1704067200 -- 2024-01-01T00:00:00Z
local span = 366 * 86400

function init(args)
  math.randomseed(tonumber(args[1]) or 42)
end

function request()
  local start = first + math.random(0, span)
  local stop = start + math.random(60, 7 * 86400)
  local path = "/results/average/" .. os.date("!%Y-%m-%dT%H:%M:%SZ", start)
    .. "/" .. os.date("!%Y-%m-%dT%H:%M:%SZ", stop)
  return wrk.format("GET", path)
end
