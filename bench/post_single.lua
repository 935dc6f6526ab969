-- wrk script for the intake benchmark: POST /api/v2/voice/single with a JSON body.
--
-- Environment: BENCH_TOKEN (Bearer token), BENCH_VOICE (voice id), BENCH_RATE (requests/s
-- for the whole run, 0 or unset: closed loop, each connection sends as soon as it has its
-- answer). With a rate, requests take slots on a fixed schedule (start + n / rate) shared by
-- all connections of the thread (run with -t1), so the offered load does not depend on the
-- latency as long as a connection is free; a connection whose slot is past sends at once.
-- wrk measures latency from the write of the request, so the wait for a slot is not in it.
-- done() prints one line "BENCH_JSON {...}" for bench/intake.py.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("bench_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local token = os.getenv("BENCH_TOKEN") or "vx_missing"
local voice = os.getenv("BENCH_VOICE") or "missing"
local rate = tonumber(os.getenv("BENCH_RATE") or "0") or 0
local interval = 0
if rate > 0 then interval = 1000 / rate end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token

local counter = 0
local next_slot = nil

function delay()
  if interval == 0 then return 0 end
  local now = now_ms()
  if next_slot == nil then next_slot = now end
  if next_slot < now - 1000 then
    -- More than a second behind: the server cannot keep up. Do not bank a burst.
    next_slot = now
  end
  local slot = next_slot
  next_slot = next_slot + interval
  if slot <= now then return 0 end
  return math.floor(slot - now)
end

function request()
  counter = counter + 1
  -- Different numbers, none ending in the sandbox's special 0001-0005.
  local number = string.format("0912%03d4567", counter % 1000)
  local body = '{"phoneNumber":"' .. number .. '","voiceId":"' .. voice .. '"}'
  return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,' ..
    '"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean))
end
