-- wrk script: 80 % GETs of random lines of PATHS_FILE, 20 % POSTs to POST_PATH of the next line
-- of BODIES_FILE (each body once per thread's share); bearer token from TOKEN.
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

local paths, bodies = {}, {}
local position = 0
local token = os.getenv("TOKEN") or ""
local post_path = os.getenv("POST_PATH") or "/"

function init(args)
  for line in io.lines(os.getenv("PATHS_FILE")) do table.insert(paths, line) end
  local nthreads = tonumber(os.getenv("THREADS") or "1")
  local index = 0
  for line in io.lines(os.getenv("BODIES_FILE")) do
    if index % nthreads == id then table.insert(bodies, line) end
    index = index + 1
  end
  math.randomseed(os.time() + id)
end

function request()
  local headers = {["Authorization"] = "Bearer " .. token}
  if math.random() < 0.2 then
    position = position + 1
    headers["Content-Type"] = "application/fhir+json"
    return wrk.format("POST", post_path, headers, bodies[((position - 1) % #bodies) + 1])
  end
  return wrk.format("GET", paths[math.random(#paths)], headers)
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout + summary.errors.status
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "errors": %d, "non_2xx": %d, "p50_ms": %.3f, "p95_ms": %.3f, "p99_ms": %.3f}\n',
    summary.requests, summary.duration / 1e6, errors, summary.errors.status,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
