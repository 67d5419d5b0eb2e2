"""read_csv: messy real-world CSV files read as numbers, or refused naming the line and column."""
import numpy as np
import pytest

from rnnkit.data import Table, read_csv, write_csv


def write(tmp_path, text, name="data.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_headers_are_stripped_and_quoted_thousands_separators_read_as_numbers(tmp_path):
    path = write(tmp_path, 'Date,Open, Volume \n1/3/2012,325.25,"7,380,500"\n1/4/2012,331.27,"5,749,400"\n')
    table = read_csv(path, time_column="Date")
    assert table.names == ["Open", "Volume"]
    np.testing.assert_array_equal(table["Volume"], [7380500.0, 5749400.0])
    np.testing.assert_array_equal(table["Open"], [325.25, 331.27])


def test_us_dates_are_parsed_to_datetime64_days(tmp_path):
    path = write(tmp_path, "Date,Open\n1/3/2017,1\n1/4/2017,2\n")
    table = read_csv(path, time_column="Date")
    assert table.time.tolist() == list(np.array(["2017-01-03", "2017-01-04"], dtype="datetime64[D]").tolist())


def test_iso_timestamps_with_a_clock_keep_seconds(tmp_path):
    path = write(tmp_path, "time,x\n2020-05-01 09:30,1\n2020-05-01T10:00:30,2\n")
    with pytest.raises(ValueError, match="line 3, time column 'time': '2020-05-01T10:00:30' does not match"):
        read_csv(path, time_column="time")
    path = write(tmp_path, "time,x\n2020-05-01 09:30:00,1\n2020-05-01 10:00:30,2\n")
    assert read_csv(path, time_column="time").time[1] == np.datetime64("2020-05-01T10:00:30")


def test_a_numeric_time_column_stays_numeric(tmp_path):
    table = read_csv(write(tmp_path, "year,x\n1990,1\n1991,2\n"), time_column="year")
    np.testing.assert_array_equal(table.time, [1990.0, 1991.0])


def test_only_the_requested_columns_are_parsed(tmp_path):
    path = write(tmp_path, "name,x\nfoo,1\nbar,2\n")
    np.testing.assert_array_equal(read_csv(path, columns=["x"])["x"], [1.0, 2.0])


def test_an_empty_cell_is_a_gap_named_by_line_and_column(tmp_path):
    path = write(tmp_path, "a,b\n1,2\n3,\n")
    with pytest.raises(ValueError, match=r"data.csv, line 3, column 'b': empty cell \(a gap"):
        read_csv(path)


def test_a_short_row_is_a_gap_in_its_missing_column(tmp_path):
    with pytest.raises(ValueError, match="line 2, column 'b': empty cell"):
        read_csv(write(tmp_path, "a,b\n1\n"))


def test_a_non_numeric_cell_is_named_with_its_text(tmp_path):
    with pytest.raises(ValueError, match=r"line 3, column 'a': 'n/a!' is not a number"):
        read_csv(write(tmp_path, "a\n1\nn/a!\n"))


def test_nan_text_counts_as_a_gap(tmp_path):
    with pytest.raises(ValueError, match="line 2, column 'a': 'NaN' is a missing value"):
        read_csv(write(tmp_path, "a\nNaN\n"))


def test_a_comma_that_is_not_a_thousands_separator_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"'1,23' is not a number"):
        read_csv(write(tmp_path, 'a\n"1,23"\n'))


def test_missing_columns_are_named_with_the_available_ones_and_a_suggestion(tmp_path):
    path = write(tmp_path, "Date,Open,Close\n1/3/2017,1,2\n")
    with pytest.raises(ValueError, match=r"column 'open' \(did you mean 'Open'\?\) not found in .*data.csv; "
                                         r"available columns: 'Date', 'Open', 'Close'"):
        read_csv(path, columns=["open"])


def test_a_missing_time_column_is_named(tmp_path):
    with pytest.raises(ValueError, match="time column 'date' .* not found"):
        read_csv(write(tmp_path, "Date,x\n1/3/2017,1\n"), time_column="date")


def test_an_empty_file_is_refused(tmp_path):
    with pytest.raises(ValueError, match="data.csv is empty: expected a header row"):
        read_csv(write(tmp_path, ""))


def test_a_header_without_rows_is_refused(tmp_path):
    with pytest.raises(ValueError, match="has a header but no data rows"):
        read_csv(write(tmp_path, "a,b\n\n"))


def test_a_file_that_is_not_utf8_is_refused_naming_the_byte(tmp_path):
    path = write(tmp_path, "température\n1\n", encoding="latin-1")
    with pytest.raises(ValueError, match=r"is not UTF-8 text \(byte 0xe9 at offset 4\)"):
        read_csv(path)


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_name(tmp_path):
    assert read_csv(write(tmp_path, "\ufeffa\n1\n")).names == ["a"]


def test_unsorted_times_are_refused_naming_both_lines(tmp_path):
    path = write(tmp_path, "Date,x\n1/3/2017,1\n1/5/2017,2\n1/4/2017,3\n")
    with pytest.raises(ValueError, match=r"line 4 \(1/4/2017\) does not come after line 3 \(1/5/2017\); sort"):
        read_csv(path, time_column="Date")


def test_an_unknown_date_format_lists_the_accepted_ones(tmp_path):
    with pytest.raises(ValueError, match="'3 Jan 2017' is not a number or a date in a known format"):
        read_csv(write(tmp_path, "Date,x\n3 Jan 2017,1\n"), time_column="Date")


def test_a_row_with_too_many_fields_is_refused(tmp_path):
    with pytest.raises(ValueError, match="line 2: 3 fields, but the header has 2"):
        read_csv(write(tmp_path, "a,b\n1,2,3\n"))


def test_repeated_header_names_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"repeats the column names \['a'\]"):
        read_csv(write(tmp_path, "a, a\n1,2\n"))


def test_write_csv_round_trips_through_read_csv(tmp_path):
    path = tmp_path / "out.csv"
    time = np.array(["2017-01-03", "2017-01-04"], dtype="datetime64[D]")
    write_csv(path, {"x": np.array([1.5, 2.25])}, time=time, time_column="Date")
    table = read_csv(path, time_column="Date")
    np.testing.assert_array_equal(table["x"], [1.5, 2.25])
    np.testing.assert_array_equal(table.time, time)


def test_table_from_array_names_columns_and_refuses_gaps():
    assert Table.from_array(np.zeros(3)).names == ["value"]
    assert Table.from_array(np.zeros((3, 2))).names == ["0", "1"]
    with pytest.raises(ValueError, match="non-finite value .* at row 1, column '1'"):
        Table.from_array(np.array([[1.0, 2.0], [3.0, np.nan]]))


def test_table_rows_selects_values_and_times_together():
    table = Table({"x": [1.0, 2.0, 3.0]}, time=np.array([10, 20, 30]), time_column="t")
    tail = table.rows(slice(-2, None))
    np.testing.assert_array_equal(tail["x"], [2, 3])
    np.testing.assert_array_equal(tail.time, [20, 30])
    assert tail.time_column == "t"
