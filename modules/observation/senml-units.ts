/*
 * The unit symbols a SenML record may carry (RFC 8428 section 12.1, the
 * primary units RFC 8798 section 2 added, and the secondary units of RFC 8798
 * section 3), so that a quantity an app declares is always labelled with a
 * unit every SenML reader knows. Symbols are case-sensitive ("Cel", "%RH").
 */
const RFC8428 = "m kg g s A K cd mol Hz rad sr N Pa J W C V F Ohm S Wb T H Cel lm lx Bq Gy Sv kat m2 m3 l m/s m/s2 m3/s l/s W/m2 cd/m2 bit bit/s lat lon pH dB dBW Bspl count / % %RH %EL EL 1/s 1/min beat/min beats S/m";
const RFC8798_PRIMARY = "B VA VAs var vars J/m kg/m3 deg";
const RFC8798_SECONDARY = "ms min h MHz kW kVA kvar Ah Wh kWh varh kvarh kVAh Wh/km KiB GB Mbit/s B/s MB/s mV mA dBm ug/m3 mm/h m/h ppm /100 /1000 hPa mm cm km km/h";

/** Every registered symbol, space-separated (a string costs a device less RAM than a set of strings). */
const UNITS = ` ${RFC8428} ${RFC8798_PRIMARY} ${RFC8798_SECONDARY} `;

/** Whether `unit` is a SenML unit symbol. */
export function isSenmlUnit(unit: string): boolean {
  return unit.length > 0 && unit.indexOf(" ") < 0 && UNITS.indexOf(` ${unit} `) >= 0;
}
