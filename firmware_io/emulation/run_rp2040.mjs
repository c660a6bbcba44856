#!/usr/bin/env node
/*
 * run_rp2040.mjs - boot a UF2 image on an emulated RP2040 (rp2040js) the way a Pico boots it, feed its
 * ADC from a file, and write what its UART0 sends to stdout at the UART's line rate.
 *
 *   node run_rp2040.mjs [--bootrom B1.bin] --uf2 fw.uf2 --adc samples.u16 --seconds 5 [--capture out.bin]
 *                       [--stats stats.json]
 *
 * With --bootrom (the real RP2040 B1 bootrom: it is not in the repository, see docs/hardware.md) the
 * core starts in the bootrom, which reads boot2 from the flash chip over SPI, checks its CRC and
 * runs it, as on a Pico. Without it a stand-in does the same check in JavaScript, copies boot2 to
 * 0x20041f00 and starts it there (what the bootrom does on success; no USB boot on failure).
 *
 * --adc is little-endian uint16 ADC codes (0..4095), interleaved by channel (ch0 ch1 ch2 ch3 ch0 ...):
 * conversion k of input c returns value [k * 4 + c], wrapping at the end of the file. Stdout gets the
 * UART bytes (a pty in the tests: the agent reads its slave side); --capture keeps a copy; --stats
 * writes the run's figures as JSON (also printed on stderr). --speed S keeps emulated time from running
 * ahead of S x the wall clock (1: real time; the emulator is faster than that while the core sleeps),
 * so a reader sees the bytes at the line rate in wall time too; 0 (default) runs as fast as it can.
 *
 * Stock rp2040js 1.4.1 cannot boot through the bootrom and models some peripherals too kindly (see
 * docs/hardware.md, "What the emulation proves"); this harness adds what a real boot and a fair test
 * need, each in a class below:
 *   - FlashChip + SSI: a 25-series serial flash (03h read, 05h status) behind the SSI, so the bootrom
 *     really reads boot2 over SPI and checks its CRC; flash at 0x10000000 reads as blank until boot2
 *     has put the SSI in XIP mode with a read command the chip answers, and the harness fails if the
 *     core executes from flash before that.
 *   - IO_QSPI and VREG_AND_CHIP_RESET register files (the bootrom halts on them otherwise), and the
 *     BOOTSEL strap (QSPI CSn) read as not pressed.
 *   - ADC round-robin: stock rp2040js masks AINSEL with the wrong constant, so inputs 1..3 read input 0.
 *   - Clocks: UART0 shifts only while clk_peri runs from a started source, and the ADC converts only
 *     while clk_adc is 48 MHz from a started PLL_USB (rp2040js runs both regardless).
 *   - RESETS: every peripheral starts held in reset (the register's power-on value, 0x01ffffff),
 *     RESET_DONE follows it, and UART0 sends and the ADC converts only once released (stock
 *     rp2040js never holds anything in reset, so a firmware that forgot would still work).
 *   - UART0 TX: a 32-byte FIFO drained at 10 bits per byte at the baud rate the firmware programmed
 *     (from clk_peri and IBRD/FBRD), whose DMA request follows UARTDMACR.TXDMAE and FIFO space; stock
 *     rp2040js sends bytes instantly and asks the DMA for more whenever the UART is enabled.
 */
import { readFileSync, writeFileSync, writeSync } from 'node:fs';
import { BasePeripheral, RP2040 } from 'rp2040js';

const FLASH_BASE = 0x10000000;
const BOOT2_ENTRY = 0x20041f00;
const DREQ_UART0_TX = 20; // RP2040 datasheet 2.5.3.1 (rp2040js does not export its DREQ table)

function parseArgs(argv) {
  const opts = { seconds: 5, capture: null, stats: null, adc: null, speed: 0 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) fail(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--bootrom') opts.bootrom = val();
    else if (a === '--uf2') opts.uf2 = val();
    else if (a === '--adc') opts.adc = val();
    else if (a === '--seconds') opts.seconds = Number(val());
    else if (a === '--capture') opts.capture = val();
    else if (a === '--stats') opts.stats = val();
    else if (a === '--speed') opts.speed = Number(val());
    else fail(`unknown argument ${a}`);
  }
  if (!opts.uf2) fail('--uf2 is required');
  if (!(opts.seconds > 0)) fail(`--seconds must be > 0, got ${opts.seconds}`);
  if (!(opts.speed >= 0)) fail(`--speed must be >= 0, got ${opts.speed}`);
  return opts;
}

function fail(msg) {
  process.stderr.write(`run_rp2040: error: ${msg}\n`);
  process.exit(2);
}

/** The flash image in a UF2 file (RP2040 family blocks only). */
function readUF2(path) {
  const data = readFileSync(path);
  if (data.length === 0 || data.length % 512) fail(`${path}: not a UF2 file (${data.length} bytes)`);
  const image = new Uint8Array(16 * 1024 * 1024).fill(0xff);
  let blocks = 0;
  for (let off = 0; off < data.length; off += 512) {
    const w = (o) => data.readUInt32LE(off + o);
    if (w(0) !== 0x0a324655 || w(4) !== 0x9e5d5157 || w(508) !== 0x0ab16f30) fail(`${path}: bad UF2 magic in block ${off / 512}`);
    if (w(8) & 0x2000 && w(28) !== 0xe48bff56) continue; // another chip's block
    const addr = w(12), size = w(16);
    if (addr < FLASH_BASE || addr + size > FLASH_BASE + image.length || size > 476) fail(`${path}: block ${off / 512} outside flash`);
    image.set(data.subarray(off + 32, off + 32 + size), addr - FLASH_BASE);
    blocks++;
  }
  if (!blocks) fail(`${path}: no RP2040 blocks`);
  return image;
}

/** CRC-32/MPEG-2, the bootrom's check of boot2 (poly 0x04c11db7, init ~0, not reflected, no xor out). */
function boot2Crc(bytes) {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b << 24;
    for (let i = 0; i < 8; i++) crc = crc & 0x80000000 ? (crc << 1) ^ 0x04c11db7 : crc << 1;
  }
  return crc >>> 0;
}

/**
 * The clocks the firmware actually started (RP2040 datasheet 2.15-2.18): rp2040js computes PLL
 * frequencies from the dividers alone and runs them even powered down or without the crystal, so
 * a source counts only when the XOSC is enabled and the PLL's VCO and post dividers are powered.
 */
function clockTree(mcu) {
  const xosc = mcu.peripherals[0x40024];
  const pllOut = (pll) => (xosc.enabled && (pll.pwr & 0x29) === 0 ? pll.frequency : 0); // PD, POSTDIVPD, VCOPD
  return {
    periHz() {
      const f = mcu.clocks.periFreq;
      const aux = (mcu.clocks.periCtrl >>> 5) & 7;
      const sys = mcu.clocks.sysCtrl;
      const sysFromPll = aux === 0 && (sys & 1) && ((sys >>> 5) & 7) === 0;
      return (aux === 1 || sysFromPll) && !pllOut(mcu.pllSys) ? 0 : f;
    },
    adcHz() {
      const { adcCtrl, adcDiv } = mcu.clocks;
      if (!(adcCtrl & (1 << 11)) || ((adcCtrl >>> 5) & 7) !== 0) return 0; // enabled, from PLL_USB
      return pllOut(mcu.pllUsb) / ((adcDiv >>> 8) || 1);
    },
  };
}

/** A plain register file: what the bootrom writes it reads back. */
class RegisterFile extends BasePeripheral {
  constructor(rp2040, name, initial = {}) {
    super(rp2040, name);
    this.regs = { ...initial };
    this.onWrite = null;
  }
  readUint32(offset) {
    return this.regs[offset] ?? 0;
  }
  writeUint32(offset, value) {
    this.regs[offset] = value >>> 0;
    this.onWrite?.(offset, value >>> 0);
  }
}

/** A 25-series SPI NOR flash as the SSI sees it: commands 03h (read) and 05h (status, never busy). */
class FlashChip {
  constructor(image) {
    this.image = image;
    this.deselect();
  }
  deselect() {
    this.state = 'cmd';
    this.addr = 0;
    this.addrBytes = 0;
  }
  /** One byte out on MOSI, the byte the chip drives on MISO at the same time. */
  transfer(mosi) {
    switch (this.state) {
      case 'cmd':
        if (mosi === 0x03) { this.state = 'addr'; this.addr = 0; this.addrBytes = 0; }
        else if (mosi === 0x05) this.state = 'status';
        else this.state = 'ignore'; // write enable, resets, continuous-read exits...: no answer needed
        return 0xff;
      case 'addr':
        this.addr = (this.addr << 8) | mosi;
        if (++this.addrBytes === 3) this.state = 'data';
        return 0xff;
      case 'data':
        return this.image[this.addr++ & 0xffffff];
      case 'status':
        return 0x00;
      default:
        return 0xff;
    }
  }
}

/** The SSI (DW_apb_ssi) in front of the flash chip: manual SPI transfers and the XIP switch. */
class SSI extends BasePeripheral {
  constructor(rp2040, chip, onXip) {
    super(rp2040, 'SSI');
    this.chip = chip;
    this.onXip = onXip;
    this.regs = {};
    this.rx = [];
  }
  readUint32(offset) {
    switch (offset) {
      case 0x20: return 0; // TXFLR: every byte goes out at once
      case 0x24: return this.rx.length; // RXFLR
      case 0x28: return 0x06 | (this.rx.length ? 0x08 : 0); // SR: TFNF | TFE | RFNE
      case 0x58: return 0x51535049; // IDR
      case 0x5c: return 0x3430312a; // SSI_VERSION_ID
      case 0x60: return this.rx.length ? this.rx.shift() : 0; // DR0
      default: return this.regs[offset] ?? 0;
    }
  }
  writeUint32(offset, value) {
    value >>>= 0;
    if (offset === 0x60) {
      if (this.regs[0x08] & 1) this.rx.push(this.chip.transfer(value & 0xff));
      return;
    }
    this.regs[offset] = value;
    if (offset === 0x08) this.onXip(value & 1 ? this.xipReadCommand() : null);
  }
  /** The read command XIP will issue, if the SSI is set up for XIP reads this chip understands. */
  xipReadCommand() {
    const ctrlr0 = this.regs[0x00] ?? 0, spi = this.regs[0xf4] ?? 0;
    const frf = (ctrlr0 >>> 21) & 3, dfs32 = (ctrlr0 >>> 16) & 31, tmod = (ctrlr0 >>> 8) & 3;
    const cmd = spi >>> 24, wait = (spi >>> 11) & 31, instL = (spi >>> 8) & 3, addrL = (spi >>> 2) & 15, trans = spi & 3;
    if (frf !== 0 || tmod !== 3 || dfs32 !== 31) return null; // XIP needs EEPROM-read mode, 32-bit frames
    if (cmd === 0x03 && wait === 0 && instL === 2 && addrL === 6 && trans === 0) return 0x03;
    return null;
  }
}

/** UART0's transmitter at its line rate: 32-byte FIFO, 10 bits a byte, DMA request on FIFO space. */
class UartTx {
  constructor(mcu, uart, sink, released, clocks) {
    this.mcu = mcu;
    this.released = released;
    this.clocks = clocks;
    this.uart = uart;
    this.sink = sink;
    this.fifo = [];
    this.dmacr = 0;
    this.shifting = false;
    this.bytes = 0;
    this.firstByteNs = null;
    this.bursts = []; // emulated ns when the line started after being idle (up to 8): frame timing
    this.alarm = mcu.clock.createAlarm(() => this.shiftDone());
    const readOrig = uart.readUint32.bind(uart), writeOrig = uart.writeUint32.bind(uart);
    uart.readUint32 = (offset) => {
      if (offset === 0x18) { // UARTFR: TXFE, TXFF, BUSY; RX flags from rp2040js
        const full = this.fifo.length >= 32;
        return (readOrig(offset) & ~((1 << 7) | (1 << 5) | (1 << 3))) | (this.fifo.length ? 0 : 1 << 7) |
          (full ? 1 << 5 : 0) | (this.shifting || this.fifo.length ? 1 << 3 : 0);
      }
      if (offset === 0x48) return this.dmacr;
      return readOrig(offset);
    };
    uart.writeUint32 = (offset, value) => {
      if (offset === 0x00) return this.push(value & 0xff);
      if (offset === 0x48) { this.dmacr = value & 7; return this.updateDreq(); }
      writeOrig(offset, value); // UARTCR also raises rp2040js's own DREQ: put ours back
      if (offset === 0x30) this.updateDreq();
    };
  }
  get enabled() {
    return this.uart.enabled && this.uart.txEnabled;
  }
  bitNanos() {
    const div = this.uart.baudDivider, peri = this.clocks.periHz();
    if (!div || !peri) return 0;
    return 1e9 / (peri / (16 * div));
  }
  push(byte) {
    if (!this.released()) return; // held in reset: writes go nowhere
    if (this.fifo.length >= 32) return; // a write to a full FIFO is lost, as on the PL011
    this.fifo.push(byte);
    if (!this.shifting) this.startShift();
    this.updateDreq();
  }
  startShift() {
    if (!this.fifo.length || !this.enabled || !this.bitNanos()) return;
    const now = this.mcu.clock.nanos;
    if (this.bursts.length < 8 && (this.lastEndNs === undefined || now - this.lastEndNs > 20 * this.bitNanos())) {
      this.bursts.push(now);
    }
    this.shifting = true;
    this.alarm.schedule(10 * this.bitNanos()); // start + 8 data + stop bits
  }
  shiftDone() {
    const byte = this.fifo.shift();
    this.shifting = false;
    this.lastEndNs = this.mcu.clock.nanos;
    if (this.firstByteNs === null) this.firstByteNs = this.mcu.clock.nanos;
    this.bytes++;
    this.sink(byte);
    this.startShift();
    this.updateDreq();
  }
  updateDreq() {
    const dma = this.mcu.dma;
    if (this.dmacr & 2 && this.enabled && this.fifo.length < 32) dma.setDREQ(DREQ_UART0_TX);
    else dma.clearDREQ(DREQ_UART0_TX);
  }
}

/** ADC inputs from a recording, one value per conversion of each input, with a working round robin. */
function feedAdc(mcu, codes, released, clocks) {
  const adc = mcu.adc;
  const perChannel = Math.floor(codes.length / 4);
  let adcClockProblem = null;
  const next = [0, 0, 0, 0];
  let conversions = 0;
  Object.defineProperty(adc, 'activeChannel', {
    get() { return (this.cs >> 12) & 7; },
    set(ch) { this.cs = (this.cs & ~(7 << 12)) | ((ch & 7) << 12); },
  });
  adc.onADCRead = (channel) => {
    if (!released()) return; // held in reset: no conversion ever completes (READY stays low)
    if (clocks.adcHz() !== 48e6) { adcClockProblem ??= clocks.adcHz(); return; } // rp2040js times it for 48 MHz
    if (channel < 4 && perChannel) {
      adc.channelValues[channel] = codes[(next[channel] % perChannel) * 4 + channel];
      next[channel]++;
    }
    conversions++;
    adc.currentChannel = channel;
    adc.sampleAlarm.schedule(adc.sampleTime * 1000);
  };
  return () => ({ conversions, per_channel: next.slice(), clk_adc_not_48mhz: adcClockProblem });
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const mcu = new RP2040();
  const quietLogger = { debug() {}, info() {}, warn() {}, error(name, msg) { process.stderr.write(`rp2040js ${name}: ${msg}\n`); } };
  mcu.logger = quietLogger;
  if (opts.bootrom) {
    const rom = readFileSync(opts.bootrom);
    if (rom.length !== 16384) fail(`${opts.bootrom}: a RP2040 bootrom is 16384 bytes, this is ${rom.length}`);
    mcu.loadBootrom(new Uint32Array(rom.buffer.slice(rom.byteOffset, rom.byteOffset + 16384)));
  }
  const image = readUF2(opts.uf2);

  // XIP: flash reads as blank (permanently-undefined instructions) until boot2 makes it readable.
  let xipLive = false, xipNs = null;
  const blank = () => mcu.flash.fill(0xde);
  blank();
  const chip = new FlashChip(image);
  mcu.peripherals[0x18000] = new SSI(mcu, chip, (cmd) => {
    if (cmd !== null && !xipLive) { mcu.flash.set(image); xipLive = true; xipNs ??= mcu.clock.nanos; }
    else if (cmd === null && xipLive) { blank(); xipLive = false; }
  });
  const ioQspi = new RegisterFile(mcu, 'IO_QSPI');
  ioQspi.onWrite = (offset, value) => {
    if (offset === 0x0c && ((value >>> 8) & 3) === 3) chip.deselect(); // SS driven high: command ends
  };
  mcu.peripherals[0x40018] = ioQspi;
  mcu.peripherals[0x40064] = new RegisterFile(mcu, 'VREG_AND_CHIP_RESET', { 0x00: 0xb1, 0x04: 0x91 });
  const sioRead = mcu.sio.readUint32.bind(mcu.sio);
  mcu.sio.readUint32 = (offset) => (offset === 0x08 ? sioRead(offset) | 0x02 : sioRead(offset)); // CSn high: no BOOTSEL

  let pending = [];
  const capture = [];
  const flush = () => {
    if (!pending.length) return;
    const buf = Buffer.from(pending);
    pending = [];
    if (opts.capture) capture.push(buf);
    for (let off = 0; off < buf.length;) {
      try {
        off += writeSync(1, buf, off);
      } catch (e) {
        if (e.code === 'EAGAIN') { Atomics.wait(sleeper, 0, 0, 1); continue; } // reader behind: the link waits
        if (e.code === 'EPIPE' || e.code === 'EIO') { finish('the reader went away'); }
        throw e;
      }
    }
  };
  // RESETS (RP2040 datasheet 2.14): all held at power-on; RESET_DONE is the complement
  const resets = mcu.peripherals[0x4000c];
  const resetsRead = resets.readUint32.bind(resets);
  resets.readUint32 = (offset) => (offset === 0x8 ? ~resets.reset & 0x1ffffff : resetsRead(offset));
  const outOfReset = (bit) => () => !(resets.reset & (1 << bit));
  const clocks = clockTree(mcu);
  const tx = new UartTx(mcu, mcu.uart[0], (b) => { pending.push(b); }, outOfReset(22), clocks);
  const adcCodes = opts.adc ? (() => {
    const raw = readFileSync(opts.adc);
    return new Uint16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + (raw.length & ~1)));
  })() : new Uint16Array(0);
  const adcStats = feedAdc(mcu, adcCodes, outOfReset(0), clocks);

  const clock = mcu.clock, core = mcu.core;
  let fault = null;
  mcu.onBreak = (code) => { fault ??= `breakpoint/undefined instruction ${code} at pc 0x${mcu.core.PC.toString(16)}`; };
  mcu.reset();
  resets.reset = 0x1ffffff;
  let boot2Rejected = false;
  if (!opts.bootrom) { // the stand-in for the bootrom's flash boot
    const boot2 = image.subarray(0, 256);
    const stored = new DataView(boot2.buffer, boot2.byteOffset + 252, 4).getUint32(0, true);
    if (boot2Crc(boot2.subarray(0, 252)) === stored) {
      mcu.sram.set(boot2, BOOT2_ENTRY - 0x20000000);
      core.SP = 0x20042000;
      core.PC = BOOT2_ENTRY;
    } else boot2Rejected = true;
  }

  const endNs = opts.seconds * 1e9;
  let instructions = 0, cycles = 0, waitNs = 0, boot2Ns = null, flashExecBeforeXip = null;
  let waitNsAtFirstByte = 0, instrAtFirstByte = 0, resetsAtBoot2 = null;
  const wall0 = process.hrtime.bigint();
  const sleeper = new Int32Array(new SharedArrayBuffer(4));

  function finish(reason) {
    flush();
    const nanos = clock.nanos;
    const streamNs = tx.firstByteNs === null ? 0 : nanos - tx.firstByteNs;
    const stats = {
      reason,
      boot: opts.bootrom ? 'bootrom' : 'stand-in',
      emulated_s: nanos / 1e9,
      wall_s: Number(process.hrtime.bigint() - wall0) / 1e9,
      instructions,
      cycles,
      boot2_entered_s: boot2Ns === null ? null : boot2Ns / 1e9,
      resets_at_boot2: resetsAtBoot2 === null ? null : `0x${resetsAtBoot2.toString(16)}`,
      resets_at_end: `0x${resets.reset.toString(16)}`,
      xip_enabled_s: xipNs === null ? null : xipNs / 1e9,
      first_uart_byte_s: tx.firstByteNs === null ? null : tx.firstByteNs / 1e9,
      uart_bytes: tx.bytes,
      uart_bursts_s: tx.bursts.map((ns) => ns / 1e9),
      uart_baud: tx.bitNanos() ? Math.round(1e9 / tx.bitNanos()) : null,
      clk_sys_hz: mcu.clkSys,
      clk_peri_hz: clocks.periHz(),
      clk_adc_hz: clocks.adcHz(),
      busy_share_streaming: streamNs ? 1 - (waitNs - waitNsAtFirstByte) / streamNs : null,
      instructions_streaming: instructions - instrAtFirstByte,
      adc: adcStats(),
      fault,
      flash_executed_before_xip: flashExecBeforeXip,
    };
    const text = JSON.stringify(stats);
    if (opts.capture) writeFileSync(opts.capture, Buffer.concat(capture));
    if (opts.stats) writeFileSync(opts.stats, text + '\n');
    process.stderr.write(text + '\n');
    process.exit(fault || flashExecBeforeXip || boot2Rejected ? 1 : 0);
  }

  if (boot2Rejected) finish('boot2 CRC rejected');
  let flushAt = 0, idle = false;
  while (clock.nanos < endNs) {
    if (core.waiting) {
      const dt = clock.nanosToNextAlarm;
      if (dt <= 0) {
        if (!clock.nextAlarm) { idle = true; break; } // asleep, and nothing scheduled can wake it
        clock.tick(0);
        continue;
      }
      clock.tick(dt);
      waitNs += dt;
    } else {
      const pc = core.PC;
      if (pc === BOOT2_ENTRY && boot2Ns === null) { boot2Ns = clock.nanos; resetsAtBoot2 = resets.reset; }
      if (pc >= FLASH_BASE) {
        if (pc < 0x14000000) {
          if (!xipLive) { flashExecBeforeXip = `pc 0x${pc.toString(16)} at ${clock.nanos / 1e9} s`; break; }
        } else if (pc < 0x20000000 || pc >= 0x20042000) { // not ROM, flash or SRAM: a wild jump
          fault = `executing at 0x${pc.toString(16)}, outside ROM, flash and SRAM`;
          break;
        }
      }
      const c = core.executeInstruction();
      instructions++;
      cycles += c;
      clock.tick((c * 1e9) / mcu.clkSys);
      if (fault) break;
    }
    if (tx.firstByteNs !== null && !instrAtFirstByte) { instrAtFirstByte = instructions; waitNsAtFirstByte = waitNs; }
    if (pending.length >= 4096 || clock.nanos >= flushAt) {
      flush();
      flushAt = clock.nanos + 1e6;
      if (opts.speed) {
        const ahead = clock.nanos / opts.speed - Number(process.hrtime.bigint() - wall0);
        if (ahead > 2e6) Atomics.wait(sleeper, 0, 0, ahead / 1e6);
      }
    }
  }
  finish(fault ? 'fault' : flashExecBeforeXip ? 'executed flash before XIP' : idle ? 'idle' : 'time');
}

main();
