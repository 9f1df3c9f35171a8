-- wrk script: POST /api/sendText to the WAHA sandbox.
-- Env: SANDBOX_KEY (API key), SANDBOX_SESSION (session name, default "bench").
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Api-Key"] = os.getenv("SANDBOX_KEY") or "sandbox-dev-key-change-me"
local session = os.getenv("SANDBOX_SESSION") or "bench"
wrk.body = '{"session":"' .. session .. '","chatId":"4915112345678@c.us","text":"benchmark message"}'

local non201 = 0
response = function(status, headers, body)
  if status ~= 201 then non201 = non201 + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format("non-201 responses (last thread): %d\n", non201))
end
