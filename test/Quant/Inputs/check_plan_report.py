"""check_plan_report.py REPORT.json [WEIGHTS_FILE] - checks a mixed-precision plan against its budget.

Recomputes what the budget measures from the report's own layers (not from the compiler's totals):
bits per weight from the chosen options' bytes, the plan's loss from their losses; with the
compiled weights file given, a size budget is checked against the file's real size. Prints
"budget met" or what is wrong.
"""
import json
import os
import sys


def main():
    report = json.load(open(sys.argv[1]))
    plan = report["precision"]
    budget = plan["budget"]
    bytes_total = weights = 0
    loss = 0.0
    for layer in plan["layers"]:
        chosen = [o for o in layer["options"] if o["candidate"] == layer["chosen"]]
        if len(chosen) != 1:
            print("layer %s: the chosen scheme is not among its options" % layer["name"])
            return 1
        weights += layer["weights"]
        bytes_total += chosen[0]["bytes"]
        loss += chosen[0]["loss"]
    kind, target = budget["kind"], budget["target"]
    if kind == "bits":
        value = 8.0 * bytes_total / weights
    elif kind == "loss":
        value = loss
    elif kind == "size":
        value = plan["total_bytes"]
        if len(sys.argv) > 2:
            value = os.path.getsize(sys.argv[2])
    else:
        value = plan["latency_ms"]
    if not budget["met"]:
        print("the report says the budget is not met")
        return 1
    if value > target * (1 + 1e-9):
        print("%s budget exceeded: %.6g > %.6g" % (kind, value, target))
        return 1
    if abs(value - budget["achieved"]) > 1e-6 * max(1.0, abs(value)) and len(sys.argv) == 2:
        print("the report's achieved %.6g differs from the layers' %.6g" % (budget["achieved"], value))
        return 1
    print("budget met: %s %.6g <= %.6g" % (kind, value, target))
    return 0


if __name__ == "__main__":
    sys.exit(main())
