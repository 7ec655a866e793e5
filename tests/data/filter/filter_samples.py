"""Small sample files shared by the filter tests."""

GOOD_C = "\n".join(
    [
        "#include <stdio.h>",
        "",
        "static int add_numbers(int left, int right) {",
        "    int total = left + right;",
        "    return total;",
        "}",
        "",
        "int main(void) {",
        "    int values[4] = {3, 5, 8, 13};",
        "    int sum = 0;",
        "    for (int index = 0; index < 4; index++) {",
        "        sum = add_numbers(sum, values[index]);",
        "    }",
        '    printf("the running sum of the sequence is %d\\n", sum);',
        "    return sum > 10 ? 0 : 1;",
        "}",
    ]
)
