-- GET /Users?startIndex=<random>&count=100.
package.path = os.getenv("PWD") .. "/bench/wrk/?.lua;" .. package.path
local c = require("common")
local users = tonumber(os.getenv("USERS"))
local headers = c.headers()
request = function()
  local start = math.random(0, math.floor(users / 100) - 1) * 100 + 1
  return wrk.format("GET", "/scim/v2/Users?startIndex=" .. start .. "&count=100", headers)
end
