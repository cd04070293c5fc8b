-- PATCH /Users/{id} active true/false, Entra's legacy shape.
package.path = os.getenv("PWD") .. "/bench/wrk/?.lua;" .. package.path
local c = require("common")
local ids, headers
local n = 0
init = function() ids = c.lines(os.getenv("IDS")); headers = c.headers() end
request = function()
  n = n + 1
  local value = (n % 2 == 0) and "True" or "False"
  local body = '{"Operations":[{"op":"Replace","path":"active","value":"' .. value .. '"}]}'
  return wrk.format("PATCH", "/scim/v2/Users/" .. ids[math.random(1, #ids)], headers, body)
end
