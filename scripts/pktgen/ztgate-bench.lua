-- SPDX-License-Identifier: BSD-3-Clause
--
-- ztgate-bench.lua: rate-step benchmark of ztgate with pktgen-DPDK 23.06.1.
--
-- pktgen replays the pcap given with `-s TXPORT:FILE.pcap` on the TX port,
-- ztgate forwards it inline, and pktgen counts what comes back on the RX
-- port.  For each rate step (percent of the TX port's line rate) the script
-- sends for a fixed time, stops, lets the pipe drain, and reports the
-- difference of the port counters.  Results are printed and, when the Lua
-- io library is available, written as OUT.json and OUT.csv.  Then pktgen quits.
--
-- Only pktgen.start/stop/delay/portStats/set/quit are used: the calls known
-- to work in 23.06.1 (see scripts/pktgen/README.md).  No `require`, so no
-- Lua package path is needed.
--
-- Settings come from the environment (pktgen passes it through):
--   ZTG_BENCH_TX_PORT        port replaying the pcap                  (0)
--   ZTG_BENCH_RX_PORT        port receiving what ztgate forwards      (1)
--   ZTG_BENCH_RATES          comma-separated integer percents, 1..100 (10,25,50,100)
--   ZTG_BENCH_SECONDS        sending time per step                    (10)
--   ZTG_BENCH_DRAIN_MS       wait after each stop before counting     (1000)
--   ZTG_BENCH_READY_FILE     wait until this file exists (ztgate's --ready-file,
--                            same host only), then ZTG_BENCH_START_DELAY_MS more
--   ZTG_BENCH_READY_TIMEOUT  seconds to wait for the ready file       (120)
--   ZTG_BENCH_START_DELAY_MS wait before the first step               (3000)
--   ZTG_BENCH_OUT            output path prefix                       (ztgate-bench)
--   ZTG_BENCH_LABEL          free text copied into the results        ("")
--   ZTG_BENCH_QUIT           1 = quit pktgen at the end, 0 = stay     (1)

local function env(name, default)
    if os ~= nil and os.getenv ~= nil then
        local v = os.getenv(name)
        if v ~= nil and v ~= "" then
            return v
        end
    end
    return default
end

local function fail(msg)
    print("ztgate-bench: " .. msg)
    pktgen.quit()
    error(msg)
end

local function number_in(name, default, lo, hi)
    local s = env(name, default)
    local v = tonumber(s)
    if v == nil or v ~= math.floor(v) or v < lo or v > hi then
        fail(string.format("%s=%s: expected an integer in %d..%d", name, s, lo, hi))
    end
    return math.floor(v)
end

local cfg = {
    tx = tostring(number_in("ZTG_BENCH_TX_PORT", "0", 0, 1023)),
    rx = tostring(number_in("ZTG_BENCH_RX_PORT", "1", 0, 1023)),
    seconds = number_in("ZTG_BENCH_SECONDS", "10", 1, 86400),
    drain_ms = number_in("ZTG_BENCH_DRAIN_MS", "1000", 0, 600000),
    ready_file = env("ZTG_BENCH_READY_FILE", ""),
    ready_timeout = number_in("ZTG_BENCH_READY_TIMEOUT", "120", 1, 86400),
    start_delay_ms = number_in("ZTG_BENCH_START_DELAY_MS", "3000", 0, 600000),
    out = env("ZTG_BENCH_OUT", "ztgate-bench"),
    label = env("ZTG_BENCH_LABEL", ""),
    quit = env("ZTG_BENCH_QUIT", "1") ~= "0",
    rates = {},
}

local rates_text = env("ZTG_BENCH_RATES", "10,25,50,100")
for item in string.gmatch(rates_text, "[^,]+") do
    local r = tonumber(item)
    if r == nil or r ~= math.floor(r) or r < 1 or r > 100 then
        fail("ZTG_BENCH_RATES=" .. rates_text .. ": every rate must be an integer percent in 1..100")
    end
    cfg.rates[#cfg.rates + 1] = math.floor(r)
end
if #cfg.rates == 0 then
    fail("ZTG_BENCH_RATES is empty")
end

-- Counters of one port (cumulative since pktgen started).
local function snapshot(port)
    local all = pktgen.portStats(port, "port")
    local s = all and all[tonumber(port)]
    if s == nil then
        fail("no statistics for port " .. port)
    end
    return {
        ipackets = s.ipackets or 0, opackets = s.opackets or 0,
        ibytes = s.ibytes or 0, obytes = s.obytes or 0,
        ierrors = s.ierrors or 0, oerrors = s.oerrors or 0,
        imissed = s.imissed or 0,
    }
end

local function file_exists(path)
    if io == nil or io.open == nil then
        return false
    end
    local f = io.open(path, "r")
    if f ~= nil then
        f:close()
        return true
    end
    return false
end

local function wait_ready()
    if cfg.ready_file ~= "" then
        print("ztgate-bench: waiting for " .. cfg.ready_file)
        local waited = 0
        while not file_exists(cfg.ready_file) do
            if waited >= cfg.ready_timeout * 1000 then
                fail("timed out waiting for " .. cfg.ready_file)
            end
            pktgen.delay(200)
            waited = waited + 200
        end
    end
    if cfg.start_delay_ms > 0 then
        pktgen.delay(cfg.start_delay_ms)
    end
end

local function run_step(rate)
    pktgen.set(cfg.tx, "rate", rate)
    local t0, r0 = snapshot(cfg.tx), snapshot(cfg.rx)
    pktgen.start(cfg.tx)
    pktgen.delay(cfg.seconds * 1000)
    pktgen.stop(cfg.tx)
    pktgen.delay(cfg.drain_ms)
    local t1, r1 = snapshot(cfg.tx), snapshot(cfg.rx)

    local s = { rate_pct = rate, seconds = cfg.seconds }
    s.tx_packets = t1.opackets - t0.opackets
    s.tx_bytes = t1.obytes - t0.obytes
    s.rx_packets = r1.ipackets - r0.ipackets
    s.rx_bytes = r1.ibytes - r0.ibytes
    s.rx_errors = r1.ierrors - r0.ierrors
    s.rx_missed = r1.imissed - r0.imissed
    s.tx_errors = t1.oerrors - t0.oerrors
    s.lost_packets = s.tx_packets - s.rx_packets
    s.loss_pct = s.tx_packets > 0 and 100.0 * s.lost_packets / s.tx_packets or 0.0
    s.tx_pps = s.tx_packets / cfg.seconds
    s.rx_pps = s.rx_packets / cfg.seconds
    -- frame bits as counted by the NIC, and on the wire (+ preamble, IFG, FCS)
    s.rx_mbps = s.rx_bytes * 8 / cfg.seconds / 1e6
    s.rx_wire_mbps = (s.rx_bytes + 24 * s.rx_packets) * 8 / cfg.seconds / 1e6
    s.avg_rx_size = s.rx_packets > 0 and s.rx_bytes / s.rx_packets or 0.0
    return s
end

local columns = {
    { "rate_pct", "%g" }, { "seconds", "%d" },
    { "tx_packets", "%.0f" }, { "tx_bytes", "%.0f" },
    { "rx_packets", "%.0f" }, { "rx_bytes", "%.0f" },
    { "lost_packets", "%.0f" }, { "loss_pct", "%.4f" },
    { "tx_pps", "%.1f" }, { "rx_pps", "%.1f" },
    { "rx_mbps", "%.3f" }, { "rx_wire_mbps", "%.3f" }, { "avg_rx_size", "%.1f" },
    { "rx_errors", "%.0f" }, { "rx_missed", "%.0f" }, { "tx_errors", "%.0f" },
}

local function json_escape(s)
    return (string.gsub(s, '[%c"\\]', function(c)
        return string.format("\\u%04x", string.byte(c))
    end))
end

local function write_results(steps)
    if io == nil or io.open == nil then
        print("ztgate-bench: no Lua io library, results only printed")
        return
    end
    local j = io.open(cfg.out .. ".json", "w")
    local c = io.open(cfg.out .. ".csv", "w")
    if j == nil or c == nil then
        print("ztgate-bench: cannot write " .. cfg.out .. ".json/.csv")
        return
    end
    j:write(string.format('{\n  "tool": "ztgate-bench.lua",\n  "label": "%s",\n', json_escape(cfg.label)))
    j:write(string.format('  "tx_port": %s,\n  "rx_port": %s,\n  "seconds_per_step": %d,\n  "steps": [\n',
                          cfg.tx, cfg.rx, cfg.seconds))
    local names = {}
    for i, col in ipairs(columns) do
        names[i] = col[1]
    end
    c:write(table.concat(names, ",") .. "\n")
    for k, s in ipairs(steps) do
        local jf, cf = {}, {}
        for i, col in ipairs(columns) do
            local v = string.format(col[2], s[col[1]])
            jf[i] = string.format('"%s": %s', col[1], v)
            cf[i] = v
        end
        j:write("    {" .. table.concat(jf, ", ") .. "}" .. (k < #steps and "," or "") .. "\n")
        c:write(table.concat(cf, ",") .. "\n")
    end
    j:write("  ]\n}\n")
    j:close()
    c:close()
    print("ztgate-bench: wrote " .. cfg.out .. ".json and " .. cfg.out .. ".csv")
end

print(string.format("ztgate-bench: tx port %s, rx port %s, %d s per step, rates %s %%",
                    cfg.tx, cfg.rx, cfg.seconds, rates_text))
wait_ready()
local steps = {}
for _, rate in ipairs(cfg.rates) do
    local s = run_step(rate)
    steps[#steps + 1] = s
    print(string.format("ztgate-bench: rate %5.1f%%  tx %12.0f pkts  rx %12.0f pkts  loss %8.4f%%  "
                        .. "rx %12.1f pps  %10.3f Mbit/s (wire %10.3f)",
                        rate, s.tx_packets, s.rx_packets, s.loss_pct, s.rx_pps, s.rx_mbps,
                        s.rx_wire_mbps))
end
write_results(steps)
if cfg.quit then
    pktgen.quit()
end
