-- GET /Users?filter=userName eq "<random seeded user>" (the identity providers' lookup).
package.path = os.getenv("PWD") .. "/bench/wrk/?.lua;" .. package.path
local c = require("common")
local users = tonumber(os.getenv("USERS"))
local headers = c.headers()
request = function()
  local i = math.random(0, users - 1)
  return wrk.format("GET", "/scim/v2/Users?filter=userName%20eq%20%22user" .. i .. "%40bench.example%22", headers)
end
