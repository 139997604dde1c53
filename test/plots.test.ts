import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { inflateSync } from 'node:zlib';
import { Resvg } from '@resvg/resvg-js';
import type { EpochMetrics, SplitMetrics } from '../src/flooding/metrics.js';
import { type ChartSpec, demoFigures, renderChart, resolveFontFiles, writeFigure } from '../src/report/plots.js';

interface Image {
  width: number;
  height: number;
  /** RGBA, row-major. */
  pixels: Buffer;
}

/** Decodes the PNGs resvg writes (8-bit RGBA, not interlaced), so the tests inspect the bytes that are shipped. */
function decodePng(png: Buffer): Image {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  assert.equal(png.toString('latin1', 12, 16), 'IHDR', 'first chunk is IHDR');
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  assert.deepEqual([png[24], png[25], png[28]], [8, 6, 0], 'bit depth 8, colour type RGBA, not interlaced');

  const idat: Buffer[] = [];
  for (let offset = 8; offset < png.length; ) {
    const length = png.readUInt32BE(offset);
    if (png.toString('latin1', offset + 4, offset + 8) === 'IDAT') idat.push(png.subarray(offset + 8, offset + 8 + length));
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * 4;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    for (let i = 0; i < stride; i++) {
      const value = raw[y * (stride + 1) + 1 + i];
      const left = i >= 4 ? pixels[y * stride + i - 4] : 0;
      const up = y > 0 ? pixels[(y - 1) * stride + i] : 0;
      const upLeft = y > 0 && i >= 4 ? pixels[(y - 1) * stride + i - 4] : 0;
      const predictor = [0, left, up, (left + up) >> 1, paeth(left, up, upLeft)][filter];
      assert.notEqual(predictor, undefined, `unknown PNG filter ${filter}`);
      pixels[y * stride + i] = (value + predictor) & 0xff;
    }
  }
  return { width, height, pixels };
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

function countPixels(image: Image, test: (r: number, g: number, b: number, a: number) => boolean, rows = [0, image.height]): number {
  let count = 0;
  for (let i = rows[0] * image.width * 4; i < rows[1] * image.width * 4; i += 4) {
    if (test(image.pixels[i], image.pixels[i + 1], image.pixels[i + 2], image.pixels[i + 3])) count++;
  }
  return count;
}

const isDark = (r: number, g: number, b: number) => r + g + b < 200;
const near = (hex: string) => {
  const [R, G, B] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return (r: number, g: number, b: number) => Math.abs(r - R) <= 8 && Math.abs(g - G) <= 8 && Math.abs(b - B) <= 8;
};

function textsOf(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((match) => match[1]);
}

/** Loss decaying to ~0 without flooding and floating at b with it; test loss rising again without flooding. */
function syntheticRun(b: number, epochs = 40): EpochMetrics[] {
  const split = (loss: number, acc: number): SplitMetrics => ({ loss, acc, cleanLoss: loss, cleanAcc: acc });
  return Array.from({ length: epochs + 1 }, (_, epoch) => {
    const decay = Math.exp(-epoch / 8);
    const trainLoss = b === 0 ? 0.69 * decay + 0.01 : 0.69 * decay + b * (1 - decay) + 0.02 * Math.sin(epoch);
    const testLoss = 0.69 * decay + (b === 0 ? 0.25 + 0.02 * epoch * (1 - decay) : 0.28);
    const train = split(trainLoss, 0.5 + (b === 0 ? 0.5 : 0.4) * (1 - decay));
    const test = split(testLoss, 0.5 + (b === 0 ? 0.36 : 0.43) * (1 - decay));
    return { epoch, train, val: test, test, floodedFraction: 0, objective: trainLoss, lr: 0.01, seconds: 0.1 };
  });
}

const figures = demoFigures(syntheticRun(0), syntheticRun(0.27), 0.27);
const scratch = await mkdtemp(path.join(os.tmpdir(), 'floodsweep-plots-'));
after(() => rm(scratch, { recursive: true, force: true }));

describe('demoFigures', () => {
  it('renders opaque 1280x800 PNGs with both runs in their colours', async () => {
    for (const figure of Object.values(await figures)) {
      const image = decodePng(figure.png);
      assert.deepEqual([image.width, image.height], [1280, 800]);
      assert.equal(
        countPixels(image, (_r, _g, _b, a) => a !== 255),
        0,
        'white background, no transparency',
      );
      assert.ok(countPixels(image, (r, g, b) => r + g + b < 740) > 0.03 * image.width * image.height, 'not blank');
      assert.ok(countPixels(image, near('#4c78a8')) > 2000, 'b = 0 in blue');
      assert.ok(countPixels(image, near('#f58518')) > 2000, 'flooded run in orange');
    }
  });

  it('keeps title, axis labels and legend entries as text in the shipped font', async () => {
    const { loss, accuracy } = await figures;
    const legend = [
      'train (noisy labels), b = 0',
      'test (clean labels), b = 0',
      'train (noisy labels), b = 0.27',
      'test (clean labels), b = 0.27',
    ];
    const lossTexts = textsOf(loss.svg);
    for (const text of [
      'Loss without flooding (b = 0) and with flooding (b = 0.27)',
      'epoch',
      'cross-entropy loss',
      'flood level b = 0.27',
      ...legend,
    ]) {
      assert.ok(lossTexts.includes(text), `loss chart lacks text "${text}"`);
    }
    const accuracyTexts = textsOf(accuracy.svg);
    for (const text of ['Accuracy without flooding (b = 0) and with flooding (b = 0.27)', 'epoch', 'accuracy (%)', ...legend]) {
      assert.ok(accuracyTexts.includes(text), `accuracy chart lacks text "${text}"`);
    }
    assert.deepEqual(new Set(loss.svg.match(/font-family="[^"]*"/g)), new Set(['font-family="DejaVu Sans"']));
  });

  it('draws the text into the PNG', async () => {
    const { loss } = await figures;
    const image = decodePng(loss.png);
    const withoutFonts = new Resvg(loss.svg, {
      font: { loadSystemFonts: false },
      fitTo: { mode: 'zoom', value: 2 },
      background: 'white',
    }).render();
    const fontless: Image = { width: withoutFonts.width, height: withoutFonts.height, pixels: withoutFonts.pixels };
    const titleRows = [0, 70];
    assert.equal(countPixels(fontless, isDark, titleRows), 0, 'control: nothing but the title lives in the top rows');
    assert.ok(countPixels(image, isDark, titleRows) > 2000, 'title glyphs are drawn');
    let differing = 0;
    for (let i = 0; i < image.pixels.length; i += 4) if (image.pixels.readUInt32BE(i) !== fontless.pixels.readUInt32BE(i)) differing++;
    assert.ok(differing > 20_000, `text changes ${differing} pixels`);
  });

  it('labels flood levels without floating-point noise', async () => {
    const { accuracy } = await demoFigures(syntheticRun(0, 3), syntheticRun(0.3, 3), 0.1 + 0.2, { scale: 1 });
    assert.ok(textsOf(accuracy.svg).includes('test (clean labels), b = 0.3'));
  });
});

describe('renderChart', () => {
  const band: ChartSpec = {
    title: 'Test accuracy vs flood level',
    xLabel: 'flood level b',
    yLabel: 'test accuracy (%)',
    bands: [{ name: 'mean ± sd over seeds', points: [0, 0.1, 0.2].map((x, i) => ({ x, low: 80 + i, mid: 82 + i, high: 84 + i })) }],
    lines: [{ name: 'seed 0', dashed: true, points: [0, 0.1, 0.2].map((x, i) => ({ x, y: 81 + 2 * i })) }],
    hLines: [{ y: 83, name: 'baseline' }],
  };

  it('honours width, height and scale, and names bands, lines and reference lines in the legend', async () => {
    const figure = await renderChart(band, { width: 500, height: 300, scale: 1 });
    const image = decodePng(figure.png);
    assert.deepEqual([image.width, image.height], [500, 300]);
    const texts = textsOf(figure.svg);
    for (const name of ['mean ± sd over seeds', 'seed 0', 'baseline']) assert.ok(texts.includes(name), `legend lacks "${name}"`);
  });

  it('takes fonts from fontDir, and FLOODSWEEP_FONT_DIR', async () => {
    const [regular] = resolveFontFiles();
    await copyFile(regular, path.join(scratch, 'DejaVuSans.ttf'));
    assert.deepEqual(resolveFontFiles(scratch), [path.join(scratch, 'DejaVuSans.ttf')]);
    const figure = await renderChart(band, { fontDir: scratch, scale: 1 });
    assert.ok(countPixels(decodePng(figure.png), isDark, [0, 35]) > 300, 'title drawn with the font from fontDir');

    const empty = await mkdtemp(path.join(scratch, 'empty-'));
    await assert.rejects(renderChart(band, { fontDir: empty }), /DejaVuSans\.ttf not found: set fontDir or FLOODSWEEP_FONT_DIR/);
    const previous = process.env.FLOODSWEEP_FONT_DIR;
    process.env.FLOODSWEEP_FONT_DIR = empty;
    try {
      assert.throws(() => resolveFontFiles(), /not found/);
    } finally {
      if (previous === undefined) delete process.env.FLOODSWEEP_FONT_DIR;
      else process.env.FLOODSWEEP_FONT_DIR = previous;
    }
  });

  it('rejects charts without data and duplicate series names', async () => {
    await assert.rejects(renderChart({ title: 'empty', xLabel: 'x', yLabel: 'y' }), /chart "empty" has no lines or bands/);
    const line = { name: 'same', points: [{ x: 0, y: 1 }] };
    await assert.rejects(renderChart({ title: 't', xLabel: 'x', yLabel: 'y', lines: [line, line] }), /two series named "same"/);
  });
});

describe('writeFigure', () => {
  it('writes <name>.png and <name>.svg, creating the directory', async () => {
    const { loss } = await figures;
    const dir = path.join(scratch, 'nested', 'plots');
    await writeFigure(dir, 'loss', loss);
    assert.deepEqual(await readFile(path.join(dir, 'loss.png')), loss.png);
    assert.equal(await readFile(path.join(dir, 'loss.svg'), 'utf8'), loss.svg);
  });
});
