-- Shared by the scenario scripts: the bearer token and the seeded ids, read once per thread.
local M = {}

function M.lines(path)
  local out = {}
  if path == nil then return out end
  for line in io.lines(path) do out[#out + 1] = line end
  return out
end

function M.headers(extra)
  local h = { ["Authorization"] = "Bearer " .. os.getenv("TOKEN"), ["Content-Type"] = "application/scim+json" }
  for k, v in pairs(extra or {}) do h[k] = v end
  return h
end

return M
